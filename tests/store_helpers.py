"""Rows in the real database as checkout and the order store write them: a vendor's product
stocked in warehouses (`seed`), an order as the saga asks the order store to record it
(`create_request`) and then to confirm it (`confirm_request`). Shared by tests/activities and
tests/integration."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.ids import vendor_order_workflow_id
from models.messages.checkout import (
    Allocation,
    ConfirmOrderRequest,
    CreateOrderRequest,
    OrderInput,
    PricedLineMsg,
    VendorOrderPlan,
)
from models.messages.money import ChargeOutcome
from stores.db import execute_sql


async def seed(
    sessions: async_sessionmaker[AsyncSession], levels: dict[str, int]
) -> tuple[str, str]:
    """A vendor with one product stocked in the given warehouses; returns (sku, vendor)."""
    suffix = uuid.uuid4().hex[:8]
    vendor, sku = f"ven_{suffix}", f"SKU-{suffix}"
    async with sessions() as session, session.begin():
        await execute_sql(
            session,
            text(
                "INSERT INTO vendor (id, name, email, commission_bps, ship_sla_seconds, created_at)"
                " VALUES (:id, 'V', 'v@example.com', 1000, 3600, now())"
            ),
            {"id": vendor},
        )
        await execute_sql(
            session,
            text(
                "INSERT INTO product (sku, vendor_id, title, price_cents, currency, weight_grams,"
                " created_at) VALUES (:sku, :vendor, 'P', 1000, 'usd', 100, now())"
            ),
            {"sku": sku, "vendor": vendor},
        )
        for warehouse, on_hand in levels.items():
            await execute_sql(
                session,
                text(
                    "INSERT INTO warehouse (id, vendor_id, name, postal_code, country, latitude,"
                    " longitude, address_line1, city, state, created_at) VALUES (:id, :vendor,"
                    " 'W', '07102', 'US', 0, 0, '1 Dock Road', 'Newark', 'NJ', now())"
                ),
                {"id": f"{warehouse}_{suffix}", "vendor": vendor},
            )
            await execute_sql(
                session,
                text(
                    "INSERT INTO stock_level (sku, warehouse_id, on_hand, reserved, updated_at)"
                    " VALUES (:sku, :wh, :n, 0, now())"
                ),
                {"sku": sku, "wh": f"{warehouse}_{suffix}", "n": on_hand},
            )
    return sku, vendor


def create_request(
    *, sku: str = "SKU-1", vendor_id: str = "ven_1", **changes: Any
) -> CreateOrderRequest:
    """An order of one unit of `sku` at 10.00, sold by `vendor_id`."""
    order_id = f"ord_{uuid.uuid4().hex[:16]}"
    order = {
        "order_id": order_id,
        "customer_id": "cus_1",
        "currency": "usd",
        "lines": [{"sku": sku, "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "1 Main St"},
        "payment_method": "pm_card_visa",
        "idempotency_key": uuid.uuid4().hex,
        "request_fingerprint": "f" * 64,
        "timing": {"return_window_seconds": 3.0},
    }
    totals = {"subtotal_cents": 1000, "shipping_cents": 0, "total_cents": 1000}
    order.update({k: v for k, v in changes.items() if k in order})
    totals.update({k: v for k, v in changes.items() if k in totals})
    line = PricedLineMsg(
        line_no=0,
        sku=sku,
        vendor_id=vendor_id,
        quantity=1,
        unit_price_cents=1000,
        line_total_cents=1000,
    )
    return CreateOrderRequest(
        order=OrderInput.model_validate(order), status="pending", lines=[line], **totals
    )


def confirm_request(request: CreateOrderRequest, warehouse_id: str) -> ConfirmOrderRequest:
    """The confirmation of `request` once charged in full: its one line is one vendor order of
    its vendor (10% commission), shipping from `warehouse_id`."""
    order_id = request.order.order_id
    [line] = request.lines
    commission = request.subtotal_cents // 10
    plan = VendorOrderPlan(
        vendor_order_id=f"vo_{order_id.removeprefix('ord_')}",
        vendor_id=line.vendor_id,
        workflow_id=vendor_order_workflow_id(order_id, line.vendor_id),
        subtotal_cents=request.subtotal_cents,
        shipping_cents=request.shipping_cents,
        commission_bps=1000,
        commission_cents=commission,
        payout_cents=request.subtotal_cents + request.shipping_cents - commission,
        lines=[
            Allocation(
                line_no=line.line_no,
                sku=line.sku,
                warehouse_id=warehouse_id,
                quantity=line.quantity,
            )
        ],
        unit_prices={line.sku: line.unit_price_cents},
    )
    charge = ChargeOutcome(
        payment_intent_id=f"pi_{order_id}",
        charge_id=f"ch_{order_id}",
        amount_cents=request.total_cents,
    )
    return ConfirmOrderRequest(order_id=order_id, charge=charge, vendor_orders=[plan])
