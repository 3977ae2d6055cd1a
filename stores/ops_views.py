"""What operators read: the vendor orders that need a person, the platform endpoints that were
disabled, and one order's whole file (timeline, vendor orders, money, stock held). Read by
`GET /v1/ops/orders` and by the `fulfillment orders stuck`, `fulfillment webhook-endpoints
disabled` and `fulfillment order show` commands.

PostgreSQL only: the workflows keep it current, and business reads never go through Temporal's
visibility (DESIGN.md). An order-level reason (`vendor_order_failed`) lives only on the order
workflow's `AttentionNeeded` search attribute, so it is found in the Temporal Web UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ledger import EntryKind, VendorOrderMoney
from models.ledger import LedgerEntry
from models.order import OrderEvent
from models.platform_webhooks import PlatformDelivery, PlatformEndpoint
from models.stock import Reservation
from models.vendor_order import VendorOrder
from models.views import OrderPublic
from stores.ledger import money_of
from stores.order_views import order_view

# `attention` given as this matches every reason.
ANY_REASON = "any"
# The prefix of the event the order store writes each time a reason is raised
# (activities/orders.py, set_attention): its time is when the wait for a person began.
ATTENTION_EVENT = "attention."


def needing_a_look(attention: str | None, vendor_id: str | None) -> list[ColumnElement[bool]]:
    """The conditions, on a query that joins VendorOrder, for a reason (or `any`) and a vendor:
    the one definition of "needs a look" the API and the command line share."""
    conditions: list[ColumnElement[bool]] = []
    if attention == ANY_REASON:
        conditions.append(col(VendorOrder.attention).is_not(None))
    elif attention is not None:
        conditions.append(col(VendorOrder.attention) == attention)
    if vendor_id is not None:
        conditions.append(col(VendorOrder.vendor_id) == vendor_id)
    return conditions


@dataclass(frozen=True)
class StuckVendorOrder:
    order_id: str
    vendor_order_id: str
    vendor_id: str
    status: str
    reason: str
    since: datetime


async def stuck_vendor_orders(
    session: AsyncSession,
    *,
    reason: str | None = None,
    vendor_id: str | None = None,
    limit: int = 50,
) -> list[StuckVendorOrder]:
    """Every vendor order with an attention reason, the one waiting longest first.

    Since: the last time its current reason was raised (a reason raised, cleared and raised
    again waits from the last time); a row flagged before events were kept falls back to its
    last change."""
    raised = (
        select(func.max(OrderEvent.at))
        .where(
            OrderEvent.vendor_order_id == VendorOrder.id,
            OrderEvent.type == func.concat(ATTENTION_EVENT, VendorOrder.attention),
        )
        .correlate(VendorOrder)
        .scalar_subquery()
    )
    since = func.coalesce(raised, VendorOrder.updated_at).label("since")
    query = select(VendorOrder, since)
    query = query.where(*needing_a_look(reason or ANY_REASON, vendor_id))
    query = query.order_by(since, col(VendorOrder.id)).limit(limit)
    return [
        StuckVendorOrder(
            order_id=vo.order_id,
            vendor_order_id=vo.id,
            vendor_id=vo.vendor_id,
            status=vo.status,
            reason=vo.attention or "",
            since=at,
        )
        for vo, at in await session.exec(query)
    ]


@dataclass(frozen=True)
class DisabledEndpoint:
    endpoint_id: str
    url: str
    since: datetime
    last_error: str
    # Pending deliveries: they go out, in order, once it is enabled again.
    waiting: int


async def disabled_endpoints(session: AsyncSession, *, limit: int = 50) -> list[DisabledEndpoint]:
    """The platform's endpoints that kept failing and were disabled, the longest disabled
    first, with the last attempt's error and how many deliveries wait for them."""
    waiting = (
        select(func.count())
        .where(
            PlatformDelivery.endpoint_id == PlatformEndpoint.id,
            PlatformDelivery.status == "pending",
        )
        .correlate(PlatformEndpoint)
        .scalar_subquery()
    )
    # What the last attempt got: its error, or the status it was answered with.
    last_error = (
        select(
            func.coalesce(
                PlatformDelivery.last_error,
                func.concat("HTTP ", PlatformDelivery.last_status_code),
            )
        )
        .where(
            PlatformDelivery.endpoint_id == PlatformEndpoint.id,
            col(PlatformDelivery.last_attempt_at).is_not(None),
        )
        .order_by(col(PlatformDelivery.last_attempt_at).desc(), col(PlatformDelivery.id).desc())
        .limit(1)
        .correlate(PlatformEndpoint)
        .scalar_subquery()
    )
    since = func.coalesce(PlatformEndpoint.disabled_at, PlatformEndpoint.updated_at).label("since")
    query = (
        select(PlatformEndpoint, since, waiting, last_error)
        .where(PlatformEndpoint.status == "disabled")
        .order_by(since, col(PlatformEndpoint.id))
        .limit(limit)
    )
    return [
        DisabledEndpoint(
            endpoint_id=endpoint.id,
            url=endpoint.url,
            since=at,
            # No attempt left to read (none kept): the reason it was disabled names the last.
            last_error=error or endpoint.disabled_reason or "",
            waiting=int(count),
        )
        for endpoint, at, count, error in await session.exec(query)
    ]


async def needing_a_person(
    session: AsyncSession,
    reason: str | None,
    vendor_id: str | None,
    limit: int,
    *,
    endpoints: bool,
) -> tuple[list[StuckVendorOrder], list[DisabledEndpoint]]:
    """What `fulfillment orders stuck` prints, in one read: the vendor orders, and (when
    `endpoints`) the disabled platform endpoints."""
    rows = await stuck_vendor_orders(session, reason=reason, vendor_id=vendor_id, limit=limit)
    return rows, (await disabled_endpoints(session, limit=limit)) if endpoints else []


@dataclass(frozen=True)
class HeldStock:
    sku: str
    warehouse_id: str
    quantity: int
    status: str
    expires_at: datetime | None


@dataclass(frozen=True)
class OrderFile:
    """An order as an operator investigates it: the public view (timeline, vendor orders),
    what the ledger says moved, and the stock it holds."""

    order: OrderPublic
    charged_cents: int
    # Per vendor order id, the ledger's arithmetic (domain/ledger.py), not a recomputation.
    money: dict[str, VendorOrderMoney]
    stock: list[HeldStock]


async def order_file(session: AsyncSession, order_id: str) -> OrderFile | None:
    order = await order_view(session, order_id)
    if order is None:
        return None
    charges = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
        LedgerEntry.order_id == order_id, LedgerEntry.kind == EntryKind.CHARGE
    )
    charged = int((await session.exec(charges)).one())
    money: dict[str, VendorOrderMoney] = {}
    for vendor_order in await _vendor_orders(session, [vo.id for vo in order.vendor_orders]):
        money[vendor_order.id] = await money_of(session, vendor_order)
    held = select(Reservation).where(Reservation.order_id == order_id)
    stock = [
        HeldStock(r.sku, r.warehouse_id, r.quantity, r.status, r.expires_at)
        for r in await session.exec(held.order_by(col(Reservation.line_no), col(Reservation.id)))
    ]
    return OrderFile(order=order, charged_cents=charged, money=money, stock=stock)


async def _vendor_orders(session: AsyncSession, ids: Sequence[str]) -> list[VendorOrder]:
    if not ids:
        return []
    query = select(VendorOrder).where(col(VendorOrder.id).in_(list(ids)))
    return list(await session.exec(query.order_by(col(VendorOrder.id))))
