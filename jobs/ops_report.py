"""How the operator's commands (`fulfillment orders stuck`, `fulfillment webhook-endpoints
disabled`, `fulfillment order show`) put what stores/ops_views.py reads in front of a person
(rich tables) or a program (JSON).

Nothing here reads or computes money: the amounts are the ledger's (stores/ledger.py), so the
command line never disagrees with the API or the reconciliation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table

from domain.ids import vendor_order_workflow_id
from stores.ops_views import DisabledEndpoint, OrderFile, StuckVendorOrder

NOTHING_STUCK = "nothing needs a person: no vendor order has an attention reason"
NO_DISABLED_ENDPOINTS = "no platform endpoint is disabled"


def waited(since: datetime, now: datetime) -> str:
    """The wait in its two largest units ("2d 3h", "5m 2s"): enough to rank by eye."""
    seconds = max(0, int((now - since).total_seconds()))
    units = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append(f"{count}{name}")
    return " ".join(parts[:2]) or "0s"


def stuck_as_json(rows: list[StuckVendorOrder], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "order_id": row.order_id,
            "vendor_order_id": row.vendor_order_id,
            "vendor_id": row.vendor_id,
            "status": row.status,
            "reason": row.reason,
            "since": row.since.isoformat(),
            "waiting_seconds": max(0, int((now - row.since).total_seconds())),
        }
        for row in rows
    ]


def stuck_table(rows: list[StuckVendorOrder], now: datetime) -> Table:
    table = Table(title="Waiting for a person, longest first")
    for header in ("order", "vendor order", "vendor", "status", "reason", "since", "waiting"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(
            row.order_id,
            row.vendor_order_id,
            row.vendor_id,
            row.status,
            row.reason,
            row.since.isoformat(timespec="seconds"),
            waited(row.since, now),
        )
    return table


def shown_url(url: str) -> str:
    """The endpoint's URL without its query or fragment: a storefront may put a token there,
    and these tables are pasted into tickets (the worker's log leaves the URL out for it)."""
    parts = urlsplit(url)
    hidden = "?…" if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + hidden


def disabled_as_json(rows: list[DisabledEndpoint], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "endpoint_id": row.endpoint_id,
            "url": shown_url(row.url),
            "disabled_since": row.since.isoformat(),
            "disabled_seconds": max(0, int((now - row.since).total_seconds())),
            "last_error": row.last_error,
            "deliveries_waiting": row.waiting,
        }
        for row in rows
    ]


def disabled_table(rows: list[DisabledEndpoint], now: datetime) -> Table:
    table = Table(title="Platform endpoints disabled, longest first")
    for header in ("endpoint", "url", "disabled since", "disabled for", "last error", "waiting"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(
            row.endpoint_id,
            shown_url(row.url),
            row.since.isoformat(timespec="seconds"),
            waited(row.since, now),
            row.last_error,
            str(row.waiting),
        )
    return table


def workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    return (
        f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}"
        f"/workflows/{quote(workflow_id, safe='')}"
    )


def workflow_links(found: OrderFile, ui_url: str, namespace: str) -> dict[str, str]:
    """The order's workflow, then each vendor order's, by the id operators know it by."""
    order = found.order
    links = {order.id: workflow_url(ui_url, namespace, order.workflow_id)}
    for vo in order.vendor_orders:
        workflow_id = vendor_order_workflow_id(order.id, vo.vendor_id)
        links[vo.id] = workflow_url(ui_url, namespace, workflow_id)
    return links


def order_as_json(found: OrderFile, links: dict[str, str]) -> dict[str, Any]:
    order = found.order
    return {
        "order": order.model_dump(mode="json"),
        "money": {
            "currency": order.currency,
            "charged_cents": found.charged_cents,
            "refunded_cents": order.refunded_cents,
            "vendor_orders": {
                vo_id: {
                    "commission_cents": money.commission_cents,
                    "refunded_cents": money.refunded_cents,
                    "payout_cents": money.payout_cents,
                    "paid_cents": money.paid_cents,
                    "transferred_cents": money.transferred_cents,
                    "reversed_cents": money.reversed_cents,
                    "payout_status": money.payout_status,
                }
                for vo_id, money in found.money.items()
            },
        },
        "stock": [
            {
                "sku": held.sku,
                "warehouse_id": held.warehouse_id,
                "quantity": held.quantity,
                "status": held.status,
                "expires_at": held.expires_at.isoformat() if held.expires_at else None,
            }
            for held in found.stock
        ],
        "links": links,
    }


def print_order(console: Console, found: OrderFile, links: dict[str, str]) -> None:
    order = found.order

    def money(cents: int) -> str:
        # Minor units as the ledger keeps them: no guessing a currency's decimals.
        return f"{cents:,}"

    console.print(f"Order {order.id}: {order.status}, customer {order.customer_id}")
    console.print(
        f"money in {order.currency} minor units: charged {money(found.charged_cents)}"
        f" (total {money(order.total_cents)}), refunded {money(order.refunded_cents)}"
    )
    vendor_orders = Table(title="Vendor orders")
    for header in ("vendor order", "vendor", "status", "attention", "tracking", "commission"):
        vendor_orders.add_column(header, overflow="fold")
    for header in ("payout", "paid", "payout status"):
        vendor_orders.add_column(header, overflow="fold")
    for vo in order.vendor_orders:
        ledger = found.money[vo.id]
        tracking = " ".join(filter(None, (vo.carrier, vo.tracking_number))) or "-"
        vendor_orders.add_row(
            vo.id,
            vo.vendor_id,
            vo.status,
            vo.attention or "-",
            tracking,
            money(ledger.commission_cents),
            money(ledger.payout_cents),
            money(ledger.paid_cents),
            ledger.payout_status,
        )
    console.print(vendor_orders)
    stock = Table(title="Stock held")
    for header in ("sku", "warehouse", "quantity", "status", "expires"):
        stock.add_column(header, overflow="fold")
    for held in found.stock:
        expires = held.expires_at.isoformat(timespec="seconds") if held.expires_at else "-"
        stock.add_row(held.sku, held.warehouse_id, str(held.quantity), held.status, expires)
    console.print(stock)
    timeline = Table(title="Timeline")
    for header in ("at", "event", "vendor order", "detail"):
        timeline.add_column(header, overflow="fold")
    for event in order.events:
        detail = ", ".join(f"{k}={v}" for k, v in (event.detail or {}).items())
        at = event.at.isoformat(timespec="seconds")
        timeline.add_row(at, event.type, event.vendor_order_id or "-", detail or "-")
    console.print(timeline)
    console.print("Temporal Web UI:")
    for name, url in links.items():
        console.print(f"  {name}: {url}", soft_wrap=True)
