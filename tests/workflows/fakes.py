"""Activities replaced by name for workflow tests: the saga's code is real, the world it talks
to is an in-memory stand-in that records what was asked of it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.ledger import (
    EntryKind,
    Movement,
    VendorOrderMoney,
    VendorOrderTerms,
    vendor_order_money,
)
from domain.refunds import split_refund
from models.messages.checkout import (
    Allocation,
    CatalogEntry,
    CatalogRequest,
    CatalogSnapshot,
    ConfirmOrderRequest,
    CreateOrderRequest,
    OrderRef,
    OrderStatusChange,
    OrderTotals,
    RejectOrderRequest,
    ReserveRequest,
    ReserveResult,
)
from models.messages.money import (
    ChargeOutcome,
    ChargeRequest,
    ExternalRefund,
    PayoutOutcome,
    PayoutRequest,
    RefundCommand,
    RefundOutcome,
    ReversalCommand,
    ReversalOutcome,
)
from models.messages.notifications import NotificationOutcome, VendorNotification
from models.messages.returns import RestockRequest, ReturnClosing, ReturnRecord
from models.messages.shipping import (
    DeliveryRecord,
    LabelRequest,
    LabelResult,
    ShipmentRecord,
    TrackRequest,
)
from models.messages.vendor_order import (
    AttentionChange,
    CancellationRecord,
    RenewRequest,
    VendorOrderRef,
)
from temporal.names import Activity


@dataclass
class FakeWorld:
    catalog: dict[str, CatalogEntry]
    stock: dict[str, int]
    declined: set[str] = field(default_factory=lambda: {"pm_card_visa_chargeDeclined"})
    held: dict[str, list[Allocation]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    charges: list[ChargeRequest] = field(default_factory=list)
    orders: dict[str, CreateOrderRequest] = field(default_factory=dict)
    rejections: dict[str, dict[str, Any]] = field(default_factory=dict)
    confirmed: dict[str, ConfirmOrderRequest] = field(default_factory=dict)
    statuses: list[tuple[str, str]] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    shipments: list[ShipmentRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    payouts: dict[str, int] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    # Money: a small in-memory ledger per vendor order, derived by the real domain rules.
    movements: dict[str, list[Movement]] = field(default_factory=dict)
    attention: list[tuple[str, str | None]] = field(default_factory=list)
    refusing_payouts: bool = False
    refusing_refunds: bool = False
    # A refund recorded while the payout's transfer was under way: the payout says so.
    refund_during_payout_cents: int = 0
    # Customers whose order the store refuses to record (bad data).
    unrecordable_customers: set[str] = field(default_factory=set)
    failing_completion: set[str] = field(default_factory=set)
    reversals: list[ReversalCommand] = field(default_factory=list)
    # What Shippo says of a parcel when it is registered for tracking.
    track_status: str = "TRANSIT"
    renewals: list[str] = field(default_factory=list)
    payout_attempts: int = 0
    released_vendor_orders: list[str] = field(default_factory=list)
    cancellations: list[CancellationRecord] = field(default_factory=list)
    returns: dict[str, ReturnRecord] = field(default_factory=dict)
    closed_returns: list[ReturnClosing] = field(default_factory=list)
    restocked: list[RestockRequest] = field(default_factory=list)
    labels: list[LabelRequest] = field(default_factory=list)
    tracked: list[TrackRequest] = field(default_factory=list)
    notifications: list[VendorNotification] = field(default_factory=list)
    # Set by a test to hold a return's expiry while it is being recorded.
    expiry_gate: asyncio.Event | None = None
    expiring: asyncio.Event = field(default_factory=asyncio.Event)
    totals: list[OrderTotals] = field(default_factory=list)
    # Estimated postage per vendor the routing would return (none: the pre-postage shape).
    shipping: dict[str, int] = field(default_factory=dict)
    label_cost_cents: int = 0

    def activities(self) -> list[object]:
        return [
            self.load_catalog,
            self.reserve,
            self.release,
            self.commit,
            self.renew,
            self.create,
            self.set_rejection,
            self.confirm,
            self.set_status,
            self.record_shipment,
            self.record_delivery,
            self.record_completion,
            self.charge,
            self.pay_vendor,
            self.refund,
            self.record_external_refund,
            self.reverse_payout,
            self.set_attention,
            self.release_vendor_order,
            self.restock_return,
            self.set_totals,
            self.record_cancellation,
            self.record_return,
            self.close_return,
            self.buy_label,
            self.track,
            self.deliver_notification,
        ]

    def terms(self, order_id: str, vendor_order_id: str) -> VendorOrderTerms:
        plan = next(
            vo
            for vo in self.confirmed[order_id].vendor_orders
            if vo.vendor_order_id == vendor_order_id
        )
        return VendorOrderTerms(
            plan.subtotal_cents, plan.shipping_cents, plan.commission_bps, self.label_cost_cents
        )

    def money(self, order_id: str, vendor_order_id: str) -> VendorOrderMoney:
        return vendor_order_money(
            self.terms(order_id, vendor_order_id), self.movements.get(vendor_order_id, [])
        )

    @activity.defn(name=Activity.LOAD_CATALOG)
    async def load_catalog(self, request: CatalogRequest) -> CatalogSnapshot:
        return CatalogSnapshot(entries=[self.catalog[s] for s in request.skus if s in self.catalog])

    @activity.defn(name=Activity.RESERVE)
    async def reserve(self, request: ReserveRequest) -> ReserveResult:
        if request.order_id in self.released:  # as the store: released stock is never re-held
            raise ApplicationError(
                "this order's stock was already released", type="invalid_state", non_retryable=True
            )
        short = [
            {"sku": line.sku, "requested": line.quantity, "available": self.stock[line.sku]}
            for line in request.lines
            if self.stock[line.sku] < line.quantity
        ]
        if short:
            raise ApplicationError(
                "insufficient stock",
                {"items": short},
                type="insufficient_stock",
                non_retryable=True,
            )
        allocations = []
        for line in request.lines:
            self.stock[line.sku] -= line.quantity
            allocations.append(
                Allocation(
                    line_no=line.line_no, sku=line.sku, warehouse_id="wh", quantity=line.quantity
                )
            )
        self.held[request.order_id] = allocations
        vendors = {line.vendor_id for line in request.lines}
        shipping = {v: cents for v, cents in self.shipping.items() if v in vendors}
        return ReserveResult(allocations=allocations, shipping_cents=shipping)

    @activity.defn(name=Activity.RELEASE)
    async def release(self, request: OrderRef) -> int:
        units = 0
        for allocation in self.held.pop(request.order_id, []):
            self.stock[allocation.sku] += allocation.quantity
            units += allocation.quantity
        self.released.append(request.order_id)
        return units

    @activity.defn(name=Activity.COMMIT_VENDOR_ORDER)
    async def commit(self, request: VendorOrderRef) -> int:
        self.committed.append(request.vendor_order_id)
        return 0

    @activity.defn(name=Activity.RENEW_HOLD)
    async def renew(self, request: RenewRequest) -> int:
        self.renewals.append(request.vendor_order_id)
        return 1

    @activity.defn(name=Activity.CREATE_ORDER)
    async def create(self, request: CreateOrderRequest) -> dict[str, Any] | None:
        if request.order.customer_id in self.unrecordable_customers:
            raise ApplicationError(
                "the order store refused the data", type="validation_error", non_retryable=True
            )
        order_id = request.order.order_id
        if order_id in self.orders:  # recorded before: the refusal it was given, as the store
            return self.rejections.get(order_id)
        self.orders[order_id] = request
        if request.rejection:
            self.rejections[order_id] = request.rejection
        return None

    @activity.defn(name=Activity.SET_REJECTION)
    async def set_rejection(self, request: RejectOrderRequest) -> None:
        self.statuses.append((request.order_id, "rejected"))
        self.rejections.setdefault(request.order_id, request.rejection)

    @activity.defn(name=Activity.CONFIRM_ORDER)
    async def confirm(self, request: ConfirmOrderRequest) -> None:
        self.confirmed[request.order_id] = request

    @activity.defn(name=Activity.SET_ORDER_STATUS)
    async def set_status(self, request: OrderStatusChange) -> None:
        self.statuses.append((request.order_id, request.status))

    @activity.defn(name=Activity.RECORD_SHIPMENT)
    async def record_shipment(self, record: ShipmentRecord) -> None:
        self.shipments.append(record)

    @activity.defn(name=Activity.RECORD_DELIVERY)
    async def record_delivery(self, record: DeliveryRecord) -> None:
        self.deliveries.append(record)

    @activity.defn(name=Activity.RECORD_COMPLETION)
    async def record_completion(self, ref: VendorOrderRef) -> None:
        if ref.vendor_order_id in self.failing_completion:
            raise ApplicationError("the store is broken", type="bug", non_retryable=True)
        self.completed.append(ref.vendor_order_id)

    @activity.defn(name=Activity.CHARGE)
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        if request.payment_method in self.declined:
            raise ApplicationError(
                "Your card was declined.",
                {"decline_code": "generic_decline"},
                type="payment_declined",
                non_retryable=True,
            )
        self.charges.append(request)
        return ChargeOutcome(
            payment_intent_id=f"pi_{request.order_id}",
            charge_id=f"ch_{request.order_id}",
            amount_cents=request.amount_cents,
        )

    @activity.defn(name=Activity.PAY_VENDOR)
    async def pay_vendor(self, request: PayoutRequest) -> PayoutOutcome:
        self.payout_attempts += 1
        if self.refusing_payouts:
            raise ApplicationError(
                "account restricted",
                {"reason": "account_invalid"},
                type="payout_failed",
                non_retryable=True,
            )
        amount = self.money(request.order_id, request.vendor_order_id).payout_cents
        self.movements.setdefault(request.vendor_order_id, []).append(
            Movement(EntryKind.TRANSFER, amount, request.vendor_order_id)
        )
        self.payouts[request.vendor_order_id] = amount
        late = self.refund_during_payout_cents
        if late:
            self.movements[request.vendor_order_id].append(
                Movement(EntryKind.REFUND, late, request.vendor_order_id, late)
            )
        to_reverse = self.money(request.order_id, request.vendor_order_id).to_reverse_cents
        return PayoutOutcome(
            transfer_id=f"tr_{request.vendor_order_id}",
            amount_cents=amount,
            to_reverse_cents=to_reverse,
        )

    @activity.defn(name=Activity.REFUND)
    async def refund(self, command: RefundCommand) -> RefundOutcome:
        if self.refusing_refunds:
            raise ApplicationError(
                "the charge cannot be refunded", type="provider_rejected", non_retryable=True
            )
        money = self.money(command.order_id, command.vendor_order_id)
        amount = money.refundable_cents if command.remaining else command.amount_cents
        if command.at_most:
            amount = min(amount, money.refundable_cents)
            if amount == 0:
                return RefundOutcome(
                    provider_refund_id=None,
                    amount_cents=0,
                    refunded_cents=money.refunded_cents,
                    to_reverse_cents=money.to_reverse_cents,
                )
        goods, _ = split_refund(
            amount, money, self.terms(command.order_id, command.vendor_order_id)
        )
        self.movements.setdefault(command.vendor_order_id, []).append(
            Movement(EntryKind.REFUND, amount, command.vendor_order_id, goods)
        )
        after = self.money(command.order_id, command.vendor_order_id)
        return RefundOutcome(
            provider_refund_id=f"re_{command.refund_key}",
            amount_cents=amount,
            refunded_cents=after.refunded_cents,
            to_reverse_cents=after.to_reverse_cents,
        )

    @activity.defn(name=Activity.RECORD_EXTERNAL_REFUND)
    async def record_external_refund(self, refund: ExternalRefund) -> RefundOutcome:
        return await self.refund(
            RefundCommand(
                order_id=refund.order_id,
                vendor_order_id=refund.vendor_order_id,
                refund_key=refund.provider_refund_id,
                amount_cents=refund.amount_cents,
            )
        )

    @activity.defn(name=Activity.REVERSE_PAYOUT)
    async def reverse_payout(self, command: ReversalCommand) -> ReversalOutcome:
        self.reversals.append(command)
        amount = self.money(command.order_id, command.vendor_order_id).to_reverse_cents
        self.movements[command.vendor_order_id].append(
            Movement(EntryKind.TRANSFER_REVERSAL, amount, command.vendor_order_id)
        )
        return ReversalOutcome(reversed_cents=amount, debt_cents=0)

    @activity.defn(name=Activity.SET_ATTENTION)
    async def set_attention(self, change: AttentionChange) -> None:
        self.attention.append((change.vendor_order_id, change.attention))

    @activity.defn(name=Activity.RELEASE_VENDOR_ORDER)
    async def release_vendor_order(self, request: VendorOrderRef) -> int:
        self.released_vendor_orders.append(request.vendor_order_id)
        return 1

    @activity.defn(name=Activity.RESTOCK_RETURN)
    async def restock_return(self, request: RestockRequest) -> int:
        self.restocked.append(request)
        return sum(line.quantity for line in request.lines)

    @activity.defn(name=Activity.SET_TOTALS)
    async def set_totals(self, totals: OrderTotals) -> None:
        self.totals.append(totals)

    @activity.defn(name=Activity.RECORD_CANCELLATION)
    async def record_cancellation(self, record: CancellationRecord) -> None:
        self.cancellations.append(record)

    @activity.defn(name=Activity.RECORD_RETURN)
    async def record_return(self, record: ReturnRecord) -> None:
        self.returns[record.return_id] = record

    @activity.defn(name=Activity.CLOSE_RETURN)
    async def close_return(self, closing: ReturnClosing) -> None:
        if closing.status == "expired" and self.expiry_gate is not None:
            self.expiring.set()  # a test holds the expiry here, between decision and record
            await self.expiry_gate.wait()
        self.closed_returns.append(closing)

    @activity.defn(name=Activity.BUY_LABEL)
    async def buy_label(self, request: LabelRequest) -> LabelResult:
        self.labels.append(request)
        return LabelResult(
            transaction_id=f"tx_{request.vendor_order_id}",
            carrier="shippo",
            tracking_number=f"SHIPPO_TRANSIT_{len(self.labels)}",
            label_url="https://labels.example/1.pdf",
            cost_cents=self.label_cost_cents,
        )

    @activity.defn(name=Activity.TRACK_PARCEL)
    async def track(self, request: TrackRequest) -> str:
        self.tracked.append(request)
        return self.track_status

    @activity.defn(name=Activity.DELIVER_NOTIFICATION)
    async def deliver_notification(self, notification: VendorNotification) -> NotificationOutcome:
        self.notifications.append(notification)
        return NotificationOutcome(delivered=True, status_code=200)


def world() -> FakeWorld:
    return FakeWorld(
        catalog={
            "BRAKE-01": CatalogEntry(
                sku="BRAKE-01",
                vendor_id="ven_a",
                price_cents=2500,
                currency="usd",
                tiers=[(3, 2000)],
                commission_bps=1000,
                vendor_name="Brakes Co",
            ),
            "TYRE-700": CatalogEntry(
                sku="TYRE-700",
                vendor_id="ven_b",
                price_cents=4999,
                currency="usd",
                commission_bps=1250,
            ),
        },
        stock={"BRAKE-01": 10, "TYRE-700": 5},
    )
