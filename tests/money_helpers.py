"""An order paid at a Stripe emulator and written to the real database as checkout writes it,
for exercising the money activities and the Stripe event handler without a whole saga. Its
fixtures (a module's own emulator, a gateway with short timeouts) are imported by the modules
that use them; sessions on the database come from tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from devstack.stack import DevStack
from emulators.stripe import create_app
from models.ledger import LedgerEntry
from models.order import Order
from models.payment import Payment
from models.vendor import Vendor
from models.vendor_order import VendorOrder
from providers.stripe_adapter import ChargeResult, StripeGateway
from temporal.client import connect
from tests.stripe_helpers import API_KEY, paid_order, running_emulator


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """A Stripe emulator of this module's own, sending no webhooks: the test hands events to
    the handler itself, so nothing else acts on them."""
    with running_emulator(create_app()) as url:
        yield url


@pytest.fixture
async def gateway(emulator_url: str) -> AsyncIterator[StripeGateway]:
    # Short timeouts: a test that loses an answer on purpose does not wait long for it.
    gateway = StripeGateway.connect(API_KEY, emulator_url, timeout_seconds=1.0)
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def temporal(stack: DevStack) -> Client:
    return await connect(stack.env["TEMPORAL_ADDRESS"])


@pytest.fixture
def task_queue() -> str:
    return f"tq-money-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class PaidOrder:
    order_id: str
    charge: ChargeResult
    vendor_orders: tuple[str, ...]
    vendors: tuple[str, ...]  # each vendor order's vendor, in the same order


async def seed_paid_order(
    sessions: async_sessionmaker[AsyncSession],
    gateway: StripeGateway,
    subtotals: list[int],
    *,
    commission_bps: int = 1000,
    stripe_account_id: str | None = None,
    payment_method: str = "pm_card_visa",
    vendor_id: str | None = None,
) -> PaidOrder:
    """One order, one vendor order per subtotal (no shipping), charged in full at the emulator
    and confirmed in the database; each vendor order's workflow id names no workflow. Each
    vendor order has a new vendor of its own, or is `vendor_id`'s, a vendor seeded before."""
    tag = uuid.uuid4().hex[:10]
    order_id = f"ord_{tag}"
    total = sum(subtotals)
    charge = await paid_order(gateway, total, order_id=order_id, payment_method=payment_method)
    async with sessions() as session, session.begin():
        session.add(
            Order(
                id=order_id,
                status="confirmed",
                customer_id="cus_money",
                currency="usd",
                subtotal_cents=total,
                total_cents=total,
                idempotency_key=f"key-{tag}",
                request_fingerprint=tag,
                payment_method=payment_method,
                workflow_id=f"order-{order_id}",
            )
        )
        vendor_orders, vendors = [], []
        for index, subtotal in enumerate(subtotals):
            vendor = vendor_id or f"ven_{tag}_{index}"
            if vendor_id is None:
                session.add(
                    Vendor(
                        id=vendor,
                        name=f"Vendor {index}",
                        email=f"v{index}@example.com",
                        commission_bps=commission_bps,
                        stripe_account_id=stripe_account_id,
                        ship_sla_seconds=3600,
                    )
                )
                await session.flush()
            # Ids in the order the index gives, as the shares are taken in sorted order.
            vendor_order_id = f"vo_{tag}_{index}"
            session.add(
                VendorOrder(
                    id=vendor_order_id,
                    order_id=order_id,
                    vendor_id=vendor,
                    status="awaiting_shipment",
                    currency="usd",
                    subtotal_cents=subtotal,
                    commission_bps=commission_bps,
                    workflow_id=f"order-{order_id}-vendor-{vendor}",
                )
            )
            vendor_orders.append(vendor_order_id)
            vendors.append(vendor)
        session.add(
            Payment(
                order_id=order_id,
                payment_intent_id=charge.payment_intent_id,
                charge_id=charge.charge_id,
                amount_cents=total,
                currency="usd",
                status="succeeded",
                idempotency_key=f"{order_id}:charge",
            )
        )
    return PaidOrder(order_id, charge, tuple(vendor_orders), tuple(vendors))


async def refund_entries(
    sessions: async_sessionmaker[AsyncSession], order_id: str
) -> list[tuple[str | None, str, int]]:
    """(vendor order, ledger key, cents) of every refund the ledger holds for the order."""
    async with sessions() as session:
        query = select(LedgerEntry).where(
            LedgerEntry.order_id == order_id, LedgerEntry.kind == "refund"
        )
        entries = await session.exec(query.order_by(col(LedgerEntry.id)))
        return [(e.vendor_order_id, e.idempotency_key, e.amount_cents) for e in entries]


async def refunded_of(sessions: async_sessionmaker[AsyncSession], order_id: str) -> int:
    async with sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order.refunded_cents
