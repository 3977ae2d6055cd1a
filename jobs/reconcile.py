"""Reconciliation: the ledger against the payment provider, order by order.

Every PaymentIntent, Refund, Transfer and reversal Stripe holds for an order must be in the
ledger with the same amount, and the other way round; one PaymentIntent per order and one
Transfer per vendor order. A succeeded charge that names an order (``metadata.order_id``, or
a ``transfer_group`` of ``order-...``) which is not confirmed (unknown, rejected or still
pending: a saga that charged then crashed, or a charge made outside) is reported until it is
refunded in full. `fulfillment reconcile` prints what this returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ids import order_workflow_id
from domain.ledger import EntryKind, order_balance, vendor_order_money
from domain.status import OrderStatus
from models.ledger import LedgerEntry
from models.order import Order
from models.payment import Payment
from models.vendor_order import VendorOrder
from providers.stripe_adapter import StripeGateway
from stores import ledger

_GROUP_PREFIX = order_workflow_id("")
_UNCONFIRMED = (OrderStatus.PENDING, OrderStatus.REJECTED)


@dataclass(frozen=True)
class Mismatch:
    order_id: str
    what: str
    ledger: object
    provider: object

    def __str__(self) -> str:
        return f"{self.order_id}: {self.what}: ledger={self.ledger} stripe={self.provider}"


class Reconciler:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway) -> None:
        self._sessions = sessions
        self._gateway = gateway

    async def run(
        self,
        order_ids: Sequence[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Mismatch]:
        """Every mismatch; `progress(done, total)` after each order (a terminal's bar)."""
        # Stripe cannot filter PaymentIntents by transfer group: list them once for all orders.
        by_order = _by_order(await _every_payment_intent(self._gateway))
        async with self._sessions() as session:
            query = select(Payment).order_by(col(Payment.id))
            if order_ids is not None:
                query = query.where(col(Payment.order_id).in_(list(order_ids)))
            payments = list(await session.exec(query))
            found: list[Mismatch] = []
            for done, payment in enumerate(payments, start=1):
                entries = list(
                    await session.exec(
                        select(LedgerEntry).where(LedgerEntry.order_id == payment.order_id)
                    )
                )
                found += await self._order(payment, entries, by_order.get(payment.order_id, []))
                found += await self._books(session, payment, entries)
                if progress is not None:
                    progress(done, len(payments))
            found += await self._charges_without_payment(session, by_order, order_ids)
        return found

    async def _charges_without_payment(
        self,
        session: AsyncSession,
        by_order: dict[str, list[dict[str, Any]]],
        order_ids: Sequence[str] | None,
    ) -> list[Mismatch]:
        """Succeeded charges naming an order that has no payment recorded: money the ledger
        never saw. An order with a payment is checked charge by charge in `_order`."""
        named = {
            order_id: charged
            for order_id, intents in by_order.items()
            if (order_ids is None or order_id in order_ids)
            and (charged := [pi for pi in intents if pi["status"] == "succeeded"])
        }
        if not named:
            return []
        wanted = sorted(named)
        paid = set(
            await session.exec(select(Payment.order_id).where(col(Payment.order_id).in_(wanted)))
        )
        statuses = {
            order.id: order.status
            for order in await session.exec(select(Order).where(col(Order.id).in_(wanted)))
        }
        found: list[Mismatch] = []
        for order_id in wanted:
            status = statuses.get(order_id)
            if order_id in paid and status not in _UNCONFIRMED:
                continue
            why = "no such order" if status is None else f"order is {status}"
            for intent in named[order_id]:
                refunds = await self._gateway.list_refunds(str(intent["id"]))
                refunded = sum(int(r["amount"]) for r in refunds if r["status"] == "succeeded")
                kept = int(intent["amount_received"]) - refunded
                # Refunded in full, the buyer has their money back: nothing left to act on.
                if kept > 0:
                    found.append(
                        Mismatch(
                            order_id,
                            f"charge without a confirmed order ({why})",
                            None,
                            {"payment_intent": intent["id"], "kept_cents": kept},
                        )
                    )
        return found

    @staticmethod
    async def _books(
        session: AsyncSession, payment: Payment, entries: list[LedgerEntry]
    ) -> list[Mismatch]:
        """Once every vendor order is finished, what was charged is fully accounted for."""
        vendor_orders = list(
            await session.exec(select(VendorOrder).where(VendorOrder.order_id == payment.order_id))
        )
        finished = ("completed", "cancelled")
        if not vendor_orders or any(vo.status not in finished for vo in vendor_orders):
            return []
        movements = [ledger.movement(e) for e in entries]
        label_costs = sum(
            vendor_order_money(
                ledger.terms_of(vo), [m for m in movements if m.vendor_order_id == vo.id]
            ).label_cost_cents
            for vo in vendor_orders
        )
        balance = order_balance(payment.amount_cents, movements, label_costs)
        if balance == 0:
            return []
        return [Mismatch(payment.order_id, "books of a finished order", 0, balance)]

    async def _order(
        self, payment: Payment, entries: list[LedgerEntry], intents: list[dict[str, Any]]
    ) -> list[Mismatch]:
        order_id = payment.order_id
        found: list[Mismatch] = []

        def differ(what: str, ledger: object, provider: object) -> None:
            if ledger != provider:
                found.append(Mismatch(order_id, what, ledger, provider))

        by_kind: dict[str, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            by_kind[entry.kind].append(entry)
        group = order_workflow_id(order_id)

        charged = [pi for pi in intents if pi["status"] == "succeeded"]
        differ("payment intents charged", 1, len(charged))
        charge = by_kind[EntryKind.CHARGE]
        differ(
            "charge",
            [(e.provider_id, e.amount_cents) for e in charge],
            [(pi["id"], pi["amount_received"]) for pi in charged],
        )

        refunds = await self._gateway.list_refunds(payment.payment_intent_id)
        ledger_refunds: dict[str, int] = defaultdict(int)
        for entry in by_kind[EntryKind.REFUND]:
            # An outside refund split across vendor orders is recorded as "re_...:vo_...";
            # money taken by a lost dispute ("dp_...") is not a Stripe refund object.
            provider_id = (entry.provider_id or "").split(":")[0]
            if not provider_id.startswith("dp_"):
                ledger_refunds[provider_id] += entry.amount_cents
        differ(
            "refunds",
            dict(sorted(ledger_refunds.items())),
            dict(sorted((r["id"], r["amount"]) for r in refunds if r["status"] == "succeeded")),
        )

        transfers = await self._gateway.list_transfers(group)
        by_vendor_order: dict[str, list[dict[str, object]]] = defaultdict(list)
        for transfer in transfers:
            by_vendor_order[transfer["metadata"].get("vendor_order_id", "?")].append(transfer)
        ledger_transfers = {
            e.vendor_order_id or "?": (e.provider_id, e.amount_cents)
            for e in by_kind[EntryKind.TRANSFER]
            if e.provider_id  # a payout wholly netted against a debt moves no money
        }
        for vendor_order_id in sorted(set(by_vendor_order) | set(ledger_transfers)):
            made = by_vendor_order.get(vendor_order_id, [])
            differ(
                f"transfers of {vendor_order_id}",
                1 if vendor_order_id in ledger_transfers else 0,
                len(made),
            )
            differ(
                f"transfer of {vendor_order_id}",
                ledger_transfers.get(vendor_order_id),
                (made[0]["id"], made[0]["amount"]) if len(made) == 1 else None,
            )
        ledger_reversals: dict[str, int] = defaultdict(int)
        for entry in by_kind[EntryKind.TRANSFER_REVERSAL]:
            ledger_reversals[entry.vendor_order_id or "?"] += entry.amount_cents
        for vendor_order_id, made in sorted(by_vendor_order.items()):
            reversed_at_stripe = 0
            for transfer in made:
                reversals = await self._gateway.list_reversals(str(transfer["id"]))
                reversed_at_stripe += sum(int(r["amount"]) for r in reversals)
            differ(
                f"reversals of {vendor_order_id}",
                ledger_reversals.get(vendor_order_id, 0),
                reversed_at_stripe,
            )
        return found


def _by_order(intents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """PaymentIntents by the order they name: in `metadata.order_id` or as the transfer group
    (`order-{id}`); one naming two orders counts for both."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for intent in intents:
        named = {str((intent.get("metadata") or {}).get("order_id") or "")}
        group = str(intent.get("transfer_group") or "")
        if group.startswith(_GROUP_PREFIX):
            named.add(group.removeprefix(_GROUP_PREFIX))
        for order_id in sorted(named - {""}):
            found[order_id].append(intent)
    return found


async def _every_payment_intent(gateway: StripeGateway) -> list[dict[str, Any]]:
    return await gateway.list_payment_intents()
