"""The `fulfillment` command: `dev` runs the embedded stack, `api` and `worker` run one part
each, the way a deployment runs them.

In dev, every other command finds a running `fulfillment dev` through the file it writes in
its data folder (devstack/stack_file.py) for the servers whose variables are unset, and
says on stderr which servers it talks to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from cli_endpoints import endpoints_app
from cli_support import (
    EXIT_NO_DEV_STACK,
    EXIT_NOT_FOUND,
    api_url,
    console,
    exit_after_temporal,
    progress,
    read,
    servers,
    unreachable_servers_said,
)
from domain.attention import AttentionReason

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: str | None = typer.Option(
        None,
        "--data-dir",
        envvar="FULFILLMENT_DATA_DIR",
        help="The dev stack's data folder, where it writes devstack.json (default: .data)",
    ),
) -> None:
    ctx.obj = data_dir


@app.command()
def dev(
    ctx: typer.Context,
    data_dir: str | None = typer.Option(
        None, "--data-dir", help="Where the embedded servers keep their data (default: .data)"
    ),
) -> None:
    """Run the embedded stack in the foreground: PostgreSQL, Redis, Temporal + UI, the Stripe
    and Shippo emulators, the API and the worker. Ctrl-C stops all of it."""
    from devstack import stack_file
    from devstack.stack import run_dev_stack

    folder = stack_file.data_dir_of(os.environ, data_dir or ctx.obj)
    raise typer.Exit(run_dev_stack(str(folder)))


@app.command()
def api(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1"),
    port: int | None = typer.Option(None, help="Default: FULFILLMENT_API_PORT"),
    workers: int | None = typer.Option(
        None, min=1, help="API processes on the port. Default: FULFILLMENT_API_WORKERS (1)"
    ),
) -> None:
    """Serve the HTTP API."""
    servers(ctx)
    import uvicorn

    from models.logs import logging_config
    from models.settings import get_settings

    settings = get_settings()
    processes = workers or settings.api_workers
    keep_alive = max(1, int(settings.api_keep_alive.total_seconds()))
    # h11, even where httptools is installed: httptools refuses a header value holding a
    # control character (an Idempotency-Key with DEL) with a plain-text 400 before the app
    # sees it; the contract answers every bad input with a problem (422, naming the header).
    common: dict[str, Any] = {
        "host": host,
        "port": port or settings.api_port,
        "http": "h11",
        # uvicorn's lines through our formatter (models/logs.py), in every API process; its
        # access line is replaced by the app's own, which names the order and trace
        # (api/log_context.py).
        "log_config": logging_config(settings.log_format_in_use, settings.log_level),
        "access_log": False,
    }
    if processes == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), timeout_keep_alive=keep_alive, **common)
        return
    # Several processes: each builds its own app from the environment (the factory), and
    # each counts into files of one folder that any of them sums for /metrics
    # (api/metrics_dir.py): a scrape sees every process's requests, whichever answers it.
    from api.metrics_dir import shared_metrics_dir

    with shared_metrics_dir():
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            workers=processes,
            timeout_keep_alive=keep_alive,
            **common,
        )


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run a Temporal worker for the order sagas."""
    servers(ctx)
    from worker import main

    main()


@app.command()
def reconcile(
    ctx: typer.Context,
    order: list[str] = typer.Option(None, help="Only these order ids (default: every order)"),
) -> None:
    """Compare the money ledger with Stripe; print every mismatch; exit 1 if there is one."""
    servers(ctx)
    import asyncio

    from jobs.reconcile import Reconciler
    from models.settings import get_settings
    from providers.stripe_adapter import StripeGateway
    from stores.db import make_engine, make_sessionmaker

    async def run() -> int:
        settings = get_settings()
        engine = make_engine(settings.database_url)
        gateway = StripeGateway.connect(settings.stripe_api_key, settings.stripe_api_base)
        try:
            with progress("reconciling orders") as advance:
                reconciler = Reconciler(make_sessionmaker(engine), gateway)
                found = await reconciler.run(order or None, progress=advance)
        finally:
            await gateway.aclose()
            await engine.dispose()
        for mismatch in found:
            typer.echo(str(mismatch))
        typer.echo(f"{len(found)} mismatch(es)" if found else "the ledger matches Stripe")
        return 1 if found else 0

    with unreachable_servers_said():
        code = asyncio.run(run())
    raise typer.Exit(code)


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Bring the database schema up to date."""
    servers(ctx)
    from migrations import upgrade
    from models.settings import get_settings

    with unreachable_servers_said():
        upgrade(get_settings().database_url)
    typer.echo("database schema is up to date")


# --- What needs a person (README, "Operating it from the command line") ---

orders_app = typer.Typer(no_args_is_help=True, help="Many orders at a time.")
order_app = typer.Typer(no_args_is_help=True, help="One order.")
app.add_typer(orders_app, name="orders")
app.add_typer(order_app, name="order")
app.add_typer(endpoints_app, name="webhook-endpoints")


@orders_app.command("stuck")
def orders_stuck(
    ctx: typer.Context,
    reason: AttentionReason | None = typer.Option(None, help="Only this attention reason"),
    vendor: str | None = typer.Option(None, help="Only this vendor's id"),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable"),
) -> None:
    """Every vendor order that needs a person, the one waiting longest first.

    Unfiltered, disabled platform endpoints follow (as JSON: `webhook-endpoints disabled`)."""
    from jobs import ops_report
    from models.base import utcnow
    from stores.ops_views import needing_a_person

    # Endpoints have no reason or vendor: a filtered question is not about them.
    everything = reason is None and vendor is None and not as_json
    rows, endpoints = read(
        ctx, lambda s: needing_a_person(s, reason, vendor, limit, endpoints=everything)
    )
    now = utcnow()
    if as_json:
        typer.echo(json.dumps(ops_report.stuck_as_json(rows, now), indent=2))
    elif not rows:
        typer.echo(ops_report.NOTHING_STUCK)
    else:
        console().print(ops_report.stuck_table(rows, now))
    if endpoints:
        console().print(ops_report.disabled_table(endpoints, now))


@order_app.command("show")
def order_show(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="The order's id (ord_...)"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable"),
) -> None:
    """An order's timeline, vendor orders, money, stock held, and its workflows' links."""
    from jobs import ops_report
    from models.settings import get_settings
    from stores.ops_views import order_file

    found = read(ctx, lambda s: order_file(s, order_id))
    if found is None:
        typer.echo(f"no order {order_id}", err=True)
        raise typer.Exit(EXIT_NOT_FOUND)
    settings = get_settings()
    links = ops_report.workflow_links(found, settings.temporal_ui_url, settings.temporal_namespace)
    if as_json:
        typer.echo(json.dumps(ops_report.order_as_json(found, links), indent=2))
    else:
        ops_report.print_order(console(), found, links)


@app.command("retry-payout")
def retry_payout(
    ctx: typer.Context,
    vendor_order_id: str = typer.Argument(..., help="The vendor order's id (vo_...)"),
) -> None:
    """Retry a vendor order's failed payout now, not after its backoff (its cause fixed)."""
    import asyncio

    from models.settings import get_settings
    from models.vendor_order import VendorOrder
    from temporal.client import connect, signal_if_running
    from temporal.names import Signal

    found = read(ctx, lambda s: s.get(VendorOrder, vendor_order_id))
    if found is None:
        typer.echo(f"no vendor order {vendor_order_id}", err=True)
        raise typer.Exit(EXIT_NOT_FOUND)

    async def signal() -> str | None:
        settings = get_settings()
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        return await signal_if_running(client, found.workflow_id, Signal.RETRY_PAYOUT)

    with unreachable_servers_said():
        refused = asyncio.run(signal())
    if refused is not None:
        typer.echo(f"cannot retry the payout of {vendor_order_id}: {refused}", err=True)
        exit_after_temporal(EXIT_NOT_FOUND)
    typer.echo(f"asked {found.workflow_id} to retry its payout now")
    if found.attention != AttentionReason.PAYOUT_FAILED:
        # Harmless (the workflow only looks at it between refused payouts), but worth knowing.
        typer.echo(f"note: its payout had not failed (attention: {found.attention or 'none'})")
    exit_after_temporal(0)


inventory_app = typer.Typer(no_args_is_help=True, help="A vendor's stock.")
app.add_typer(inventory_app, name="inventory")


@inventory_app.command("feed")
def inventory_feed(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help=".csv, .jsonl or .ndjson"),
    as_of: str = typer.Option(..., help="When the supplier counted (ISO 8601 with offset)"),
    key: str = typer.Option(..., envvar="FULFILLMENT_VENDOR_KEY", help="The vendor's API key"),
) -> None:
    """Send a stock file as a feed through the API and follow it to the end, with a progress
    bar; print what it did and each refused row; exit 1 if a row was refused, 2 if it failed."""
    import asyncio

    import httpx

    from jobs.feed_upload import FeedRefused, send_feed

    async def run() -> int:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=api_url(ctx), headers=headers, timeout=60) as api:
            with progress("applying the feed") as advance:
                outcome = await send_feed(api, file, as_of, advance)
            refusals = await api.get(outcome.feed["refusals_url"], params={"limit": 200})
        for row in refusals.json().get("data", []) if refusals.status_code == 200 else []:
            typer.echo(f"line {row['line']}: {row['reason']} ({row['sku']}) {row['detail']}")
        typer.echo(outcome.summary())
        if not outcome.succeeded:
            return 2
        return 1 if outcome.feed["rows_refused"] else 0

    try:
        code = asyncio.run(run())
    except (FeedRefused, ValueError) as error:
        typer.echo(f"the feed was refused: {error}", err=True)
        code = 2
    except httpx.TransportError as error:
        typer.echo(f"the API at {api_url(ctx)} does not answer: {error}", err=True)
        code = EXIT_NO_DEV_STACK
    raise typer.Exit(code)


@app.command()
def replay(
    ctx: typer.Context,
    query: str = typer.Option(
        "ExecutionStatus = 'Running'",
        help="Which workflows (a Temporal visibility query; default: every open one)",
    ),
    limit: int | None = typer.Option(None, min=1, help="At most this many"),
) -> None:
    """Before a deploy: replay the open workflows' histories on this version's code; print
    each that would fail (its workers would stop at a nondeterminism error); exit 1 if one."""
    servers(ctx)
    import asyncio

    from models.settings import get_settings
    from temporal.client import connect
    from temporal.replay_check import replay_workflows
    from workflows.registry import WORKFLOWS

    async def run() -> int:
        settings = get_settings()
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        with progress("replaying workflows") as advance:
            report = await replay_workflows(client, WORKFLOWS, query, limit, advance)
        for failure in report.failures:
            typer.echo(str(failure))
        failed = len(report.failures)
        typer.echo(f"replayed {report.replayed} workflow(s) on this code: {failed} would fail")
        return 1 if failed else 0

    with unreachable_servers_said():
        code = asyncio.run(run())
    exit_after_temporal(code)


if __name__ == "__main__":
    app()
