"""The schema comes from Alembic migrations, and they match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import models.tables  # noqa: F401  (every table on the metadata)
from devstack.stack import DevStack
from migrations import alembic_config


def test_the_migrated_database_matches_the_models_with_nothing_left_to_migrate(
    stack: DevStack,
) -> None:
    engine = create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            head = ScriptDirectory.from_config(alembic_config(stack.env["DATABASE_URL"]))
            assert context.get_current_revision() == head.get_current_head()
            assert compare_metadata(context, SQLModel.metadata) == []
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {
        "vendor",
        "warehouse",
        "product",
        "price_tier",
        "stock_level",
        "reservation",
        "orders",
        "order_line",
        "vendor_order",
        "vendor_order_line",
        "payment",
        "order_event",
        "api_key",
        "ledger_entry",
        "webhook_event",
        "external_refund",
    } <= tables
