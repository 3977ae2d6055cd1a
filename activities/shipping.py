"""Labels and tracking through Shippo.

The Shippo SDK is synchronous, so its calls run in a thread pool, never on the worker's
event loop. Shippo takes no idempotency key: a label is bought once per vendor order because
the vendor order remembers it, and because the gateway looks for a label already bought under
the vendor order's reference before buying (a retry after a lost answer finds it).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.errors import business_error, provider_error
from domain.errors import DomainError, InvalidState
from domain.shipping import choose_rate
from domain.warehouse_address import WarehouseAddressIncomplete
from models.base import utcnow
from models.messages.shipping import LabelRequest, LabelResult, TrackRequest
from models.order import Order
from models.vendor import Vendor, Warehouse
from models.vendor_order import VendorOrderLine
from providers.errors import ProviderError
from providers.shippo_adapter import Address, Parcel, ShippoGateway
from stores.ledger import refresh, vendor_order_of
from temporal.names import Activity

T = TypeVar("T")


def label_reference(vendor_order_id: str) -> str:
    return f"vendor_order:{vendor_order_id}"


class ShippingActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gateway: ShippoGateway,
        executor: Executor | None = None,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._executor = executor

    @activity.defn(name=Activity.BUY_LABEL)
    async def buy_label(self, request: LabelRequest) -> LabelResult:
        async with self._sessions() as session:
            vendor_order = await vendor_order_of(session, request.vendor_order_id)
            if vendor_order.label_transaction_id is not None:
                return _stored(vendor_order)
            order = await session.get(Order, vendor_order.order_id)
            vendor = await session.get(Vendor, vendor_order.vendor_id)
            lines = (
                await session.exec(
                    select(VendorOrderLine).where(
                        VendorOrderLine.vendor_order_id == request.vendor_order_id
                    )
                )
            ).all()
            # One label per vendor order: it leaves from the warehouse holding most units.
            units: dict[str, int] = {}
            for line in lines:
                if line.warehouse_id is not None:
                    units[line.warehouse_id] = units.get(line.warehouse_id, 0) + line.quantity
            if not units:
                raise business_error(
                    InvalidState("this vendor order has no warehouse to ship from")
                )
            origin = await session.get(Warehouse, max(sorted(units), key=lambda w: units[w]))
            assert order is not None and vendor is not None and origin is not None
            missing = origin.missing_for_labels()
            if missing:
                # Never a made-up return address: the vendor completes the warehouse's address
                # (or ships with its own carrier), and nothing was bought or changed.
                raise business_error(WarehouseAddressIncomplete(origin.id, missing))
            sender = Address(
                name=vendor.name,
                street1=origin.address_line1 or "",
                street2=origin.address_line2 or "",
                city=origin.city or "",
                state=origin.state or "",
                zip=origin.postal_code,
                country=origin.country,
                email=vendor.email,
                phone=origin.phone,
            )
            to = order.shipping_address or {}
            recipient = Address(
                name=str(to.get("name") or order.customer_id),
                street1=str(to.get("line1") or ""),
                street2=str(to.get("line2") or ""),
                city=str(to.get("city") or ""),
                zip=str(to.get("postal_code") or ""),
                country=str(to.get("country") or "US"),
                state=str(to.get("state") or ""),
            )
            max_days = vendor.max_transit_days
            currency = vendor_order.currency
        parcel = Parcel(
            length_cm=request.parcel.length_cm,
            width_cm=request.parcel.width_cm,
            height_cm=request.parcel.height_cm,
            weight_grams=request.parcel.weight_grams,
        )
        reference = label_reference(request.vendor_order_id)

        def cheapest_meeting_service_level() -> str:
            rates = self._gateway.rates(sender, recipient, parcel, reference)
            return choose_rate(rates, max_days, currency=currency).rate_id

        try:
            label = await self._call(
                self._gateway.label_for, reference, cheapest_meeting_service_level
            )
        except DomainError as error:
            raise business_error(error) from error
        async with self._sessions() as session, session.begin():
            vendor_order = await vendor_order_of(session, request.vendor_order_id, lock=True)
            if vendor_order.label_transaction_id is None:
                vendor_order.label_transaction_id = label.transaction_id
                vendor_order.label_url = label.label_url
                vendor_order.label_cost_cents = label.cost_cents
                vendor_order.carrier = label.carrier
                vendor_order.tracking_number = label.tracking_number
                vendor_order.updated_at = utcnow()
                # The label is paid by the platform and recovered from the vendor's payout.
                await refresh(session, vendor_order)
            return _stored(vendor_order)

    @activity.defn(name=Activity.TRACK_PARCEL)
    async def track(self, request: TrackRequest) -> str:
        """Register a vendor's own tracking number so Shippo reports the parcel's progress."""
        update = await self._call(
            self._gateway.track,
            request.carrier,
            request.tracking_number,
            label_reference(request.vendor_order_id),
        )
        return str(update.status)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            # In the activity's context: the SDK's log lines name its order (models/logs.py).
            context = contextvars.copy_context()
            return await loop.run_in_executor(self._executor, lambda: context.run(fn, *args))
        except ProviderError as error:
            raise provider_error(error) from error


def _stored(vendor_order: Any) -> LabelResult:
    return LabelResult(
        transaction_id=vendor_order.label_transaction_id,
        carrier=vendor_order.carrier or "",
        tracking_number=vendor_order.tracking_number or "",
        label_url=vendor_order.label_url or "",
        cost_cents=vendor_order.label_cost_cents,
    )
