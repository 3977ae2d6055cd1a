"""A vendor order's returns, kept inside its workflow.

A return is opened within the return window after delivery and priced then (the units'
share of what was paid, domain.refunds); it is refunded when the vendor receives the units.
While one is open the vendor's payout waits, until it is received or expires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import DomainError, ErrorCode
    from domain.ids import return_refund_key
    from domain.pricing import PricedLine
    from domain.refunds import refund_for_units
    from models.messages.money import RefundCommand
    from models.messages.returns import (
        ReceiveRequest,
        RestockRequest,
        ReturnClosing,
        ReturnLineRecord,
        ReturnRecord,
        ReturnRequest,
        ReturnState,
    )
    from models.messages.vendor_order import SoldLine
    from temporal.names import Activity
    from workflows.money import MoneyDesk
    from workflows.options import STEP


@dataclass
class _Return:
    request: ReturnRequest
    refund_cents: int
    status: str = "requested"
    receiving: bool = False


class ReturnDesk:
    def __init__(
        self,
        order_id: str,
        vendor_order_id: str,
        lines: list[SoldLine],
        money: MoneyDesk,
        *,
        mark: Callable[[], None] = lambda: None,
    ) -> None:
        # The retired patch's marker where runs recorded it (VendorOrderBase._mark_lean).
        self._mark = mark
        self._order_id = order_id
        self._vendor_order_id = vendor_order_id
        self._lines = lines
        self._money = money
        self._returns: dict[str, _Return] = {}

    @property
    def open(self) -> bool:
        return any(r.status == "requested" for r in self._returns.values())

    @property
    def open_count(self) -> int:
        return sum(r.status == "requested" for r in self._returns.values())

    def check_open(self, request: ReturnRequest, window_ends: datetime | None) -> int:
        """The refund the return is worth, or an ApplicationError saying why it cannot be."""
        if window_ends is None:
            raise _invalid("a return can only be opened after delivery")
        if workflow.now() >= window_ends:
            raise _invalid(f"the return window ended at {window_ends.isoformat()}")
        if request.return_id in self._returns:
            raise _invalid("this return was already opened")
        units: dict[str, int] = {}
        for line in request.lines:
            units[line.sku] = units.get(line.sku, 0) + line.quantity
        try:
            return refund_for_units(self._priced(), self._units_taken(), units)
        except DomainError as error:
            raise ApplicationError(
                error.detail, dict(error.extra), type=str(error.code), non_retryable=True
            ) from None

    async def open_return(
        self, request: ReturnRequest, window_ends: datetime | None
    ) -> ReturnState:
        refund = self.check_open(request, window_ends)
        entry = _Return(request, refund)
        self._returns[request.return_id] = entry
        prices = {line.sku: line.unit_price_cents for line in self._lines}
        await workflow.execute_activity(
            Activity.RECORD_RETURN,
            ReturnRecord(
                return_id=request.return_id,
                order_id=self._order_id,
                vendor_order_id=self._vendor_order_id,
                lines=[
                    ReturnLineRecord(
                        sku=line.sku, quantity=line.quantity, unit_price_cents=prices[line.sku]
                    )
                    for line in request.lines
                ],
                reason=request.reason,
                refund_cents=refund,
                requested_at=workflow.now(),
            ),
            **STEP,
        )
        return self._state(entry)

    def check_receive(self, request: ReceiveRequest) -> None:
        entry = self._returns.get(request.return_id)
        if entry is None:
            raise ApplicationError(
                "no such return on this vendor order", type=ErrorCode.NOT_FOUND, non_retryable=True
            )
        if entry.status != "requested" or entry.receiving:
            raise _invalid(f"the return is {entry.status}; it cannot be received now")

    async def receive(self, request: ReceiveRequest) -> ReturnState:
        self.check_receive(request)
        entry = self._returns[request.return_id]
        entry.receiving = True
        try:
            outcome = await self._money.refund(
                RefundCommand(
                    order_id=self._order_id,
                    vendor_order_id=self._vendor_order_id,
                    refund_key=return_refund_key(request.return_id),
                    amount_cents=entry.refund_cents,
                    at_most=True,
                )
            )
            if request.restock:
                await workflow.execute_activity(
                    Activity.RESTOCK_RETURN,
                    RestockRequest(
                        return_id=request.return_id,
                        order_id=self._order_id,
                        vendor_order_id=self._vendor_order_id,
                        lines=entry.request.lines,
                    ),
                    **STEP,
                )
            await self._close(
                entry, "refunded", outcome.provider_refund_id, restocked=request.restock
            )
        finally:
            entry.receiving = False
        return self._state(entry)

    async def settle(self, expire_after: timedelta | None) -> None:
        """Hold the payout while a return is open: until received, or until it expires."""
        if not self.open:
            return
        try:
            await workflow.wait_condition(
                lambda: not self.open, timeout=expire_after, timeout_summary="open returns expire"
            )
        except TimeoutError:
            for entry in list(self._returns.values()):
                if entry.status == "requested" and not entry.receiving:
                    self._mark()
                    # Expired from the moment it is decided, not once recorded: a receive
                    # arriving in between is refused (simulation seed 501).
                    entry.status = "expired"
                    await self._close(entry, "expired", None)
            # One being received as it expired finishes (it was received in time).
            await workflow.wait_condition(lambda: not self.open)

    async def _close(
        self, entry: _Return, status: str, refund_id: str | None, *, restocked: bool = False
    ) -> None:
        await workflow.execute_activity(
            Activity.CLOSE_RETURN,
            ReturnClosing(
                return_id=entry.request.return_id,
                order_id=self._order_id,
                vendor_order_id=self._vendor_order_id,
                status=status,
                at=workflow.now(),
                provider_refund_id=refund_id,
                restocked=restocked,
            ),
            **STEP,
        )
        entry.status = status

    def _priced(self) -> list[PricedLine]:
        return [
            PricedLine(
                sku=line.sku,
                vendor_id="",
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                line_total_cents=line.quantity * line.unit_price_cents,
            )
            for line in self._lines
        ]

    def _units_taken(self) -> dict[str, int]:
        """Units already in a return that is not expired: they cannot be returned twice."""
        taken: dict[str, int] = {}
        for entry in self._returns.values():
            if entry.status == "expired":
                continue
            for line in entry.request.lines:
                taken[line.sku] = taken.get(line.sku, 0) + line.quantity
        return taken

    def _state(self, entry: _Return) -> ReturnState:
        return ReturnState(
            return_id=entry.request.return_id,
            vendor_order_id=self._vendor_order_id,
            status=entry.status,
            refund_cents=entry.refund_cents,
        )


def _invalid(detail: str) -> ApplicationError:
    return ApplicationError(detail, type=ErrorCode.INVALID_STATE, non_retryable=True)
