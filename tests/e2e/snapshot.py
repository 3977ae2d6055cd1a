"""What a refused request must not change: the row count of every table, and stock levels.

Every table in the database is counted, so a new table is covered without a change here.
Tables that workflows and provider webhooks write in the background (for orders of earlier
tests, minutes later) are counted only for the vendors under test; two are not counted at all,
for the reasons given below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

_ORDERS_OF = "SELECT order_id FROM order_line WHERE vendor_id = ANY(%(vendors)s)"
_SKUS_OF = "SELECT sku FROM product WHERE vendor_id = ANY(%(vendors)s)"
SCOPED = {
    "stock_level": f"sku IN ({_SKUS_OF})",
    "stock_movement": f"sku IN ({_SKUS_OF})",
    "reservation": f"sku IN ({_SKUS_OF})",
    "order_event": f"order_id IN ({_ORDERS_OF})",
    "ledger_entry": f"order_id IN ({_ORDERS_OF})",
    "external_refund": (
        f"payment_intent_id IN (SELECT payment_intent_id FROM payment WHERE order_id IN"
        f" ({_ORDERS_OF}))"
    ),
    # The platform events' outbox fans every order's events out in the background.
    "platform_webhook_delivery": f"order_id IN ({_ORDERS_OF})",
    # Stock feeds run as workflows, minutes after the request that sent them.
    "stock_feed": "vendor_id = ANY(%(vendors)s)",
    "stock_feed_row": ("feed_id IN (SELECT id FROM stock_feed WHERE vendor_id = ANY(%(vendors)s))"),
    "stock_feed_mark": f"sku IN ({_SKUS_OF})",
}
UNCOUNTED = {
    "alembic_version": "the schema's version",
    # Written only by the webhook routes: their refusals are checked by event id instead,
    # while the emulators' own webhooks for earlier tests' orders keep arriving.
    "webhook_event": "checked by event id",
    # Answers kept for retries, refusals included, by design (api/idempotency.py).
    "idempotency_record": "keeps refusals by design",
    # The platform events outbox's own bookkeeping: events it has read, pruned in the
    # background as its reading position passes them (stores/platform_deliveries.py).
    "platform_event_fanned": "the outbox's bookkeeping",
}


def sync_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def tables(connection: psycopg.Connection[Any]) -> list[str]:
    rows = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return [row[0] for row in rows if row[0] not in UNCOUNTED]


def snapshot(connection: psycopg.Connection[Any], vendors: Sequence[str]) -> dict[str, Any]:
    """Row counts (the background-written tables only for these vendors) and their stock."""
    counts = " UNION ALL ".join(
        f"SELECT '{name}', count(*) FROM {name}"
        + (f" WHERE {SCOPED[name]}" if name in SCOPED else "")
        for name in tables(connection)
    )
    params = {"vendors": list(vendors)}
    with connection.transaction():
        found: dict[str, Any] = dict(connection.execute(counts, params).fetchall())  # type: ignore[arg-type]
        found["stock levels"] = connection.execute(
            "SELECT sku, warehouse_id, on_hand, reserved FROM stock_level"
            f" WHERE sku IN ({_SKUS_OF}) ORDER BY sku, warehouse_id",
            params,
        ).fetchall()
    return found


def connect(database_url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(sync_url(database_url), autocommit=True)
