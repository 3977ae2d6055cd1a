"""The `fulfillment` command: `dev` runs the embedded stack, `api` and `worker` run one part
each, the way a deployment runs them.

In dev, every other command finds a running `fulfillment dev` through the file it writes in
its data folder (devstack/stack_file.py) for the servers whose variables are unset, and
says on stderr which servers it talks to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

# A command whose servers do not answer (a dev stack gone, its file left behind by a crash;
# a server down) did nothing.
EXIT_NO_DEV_STACK = 3


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


def _servers(ctx: typer.Context) -> None:
    """Take the unset server variables from the running dev stack, and say which servers this
    command talks to (dev only: outside dev the file is never read and nothing is said)."""
    from models.settings import DEV_ENVS

    if os.environ.get("FULFILLMENT_ENV", "dev") not in DEV_ENVS:
        return  # production images carry no devstack/ (Dockerfile)
    from devstack import stack_file

    folder = stack_file.data_dir_of(os.environ, ctx.obj)
    try:
        chosen = stack_file.use(os.environ, folder)
    except stack_file.DevStackNotRunning as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_NO_DEV_STACK) from None
    if chosen is not None:
        typer.echo(stack_file.describe(chosen, os.environ), err=True)


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
    _servers(ctx)
    import uvicorn

    from models.settings import get_settings

    settings = get_settings()
    processes = workers or settings.api_workers
    keep_alive = max(1, int(settings.api_keep_alive.total_seconds()))
    # h11, even where httptools is installed: httptools refuses a header value holding a
    # control character (an Idempotency-Key with DEL) with a plain-text 400 before the app
    # sees it; the contract answers every bad input with a problem (422, naming the header).
    common = {"host": host, "port": port or settings.api_port, "http": "h11"}
    if processes == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), timeout_keep_alive=keep_alive, **common)
        return
    # Several processes: each builds its own app from the environment (the factory).
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
    _servers(ctx)
    from worker import main

    main()


@app.command()
def reconcile(
    ctx: typer.Context,
    order: list[str] = typer.Option(None, help="Only these order ids (default: every order)"),
) -> None:
    """Compare the money ledger with Stripe; print every mismatch; exit 1 if there is one."""
    _servers(ctx)
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
            found = await Reconciler(make_sessionmaker(engine), gateway).run(order or None)
        finally:
            await gateway.aclose()
            await engine.dispose()
        for mismatch in found:
            typer.echo(str(mismatch))
        typer.echo(f"{len(found)} mismatch(es)" if found else "the ledger matches Stripe")
        return 1 if found else 0

    with _unreachable_servers_said():
        code = asyncio.run(run())
    raise typer.Exit(code)


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Bring the database schema up to date."""
    _servers(ctx)
    from migrations import upgrade
    from models.settings import get_settings

    with _unreachable_servers_said():
        upgrade(get_settings().database_url)
    typer.echo("database schema is up to date")


@contextmanager
def _unreachable_servers_said() -> Iterator[None]:
    """A server that does not answer is one line on stderr and exit 3, not a traceback."""
    from sqlalchemy.exc import OperationalError

    from providers.errors import ProviderUnavailableError

    try:
        yield
    except (OperationalError, ProviderUnavailableError) as error:
        first = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        typer.echo(f"a server does not answer (see which above): {first}", err=True)
        raise typer.Exit(EXIT_NO_DEV_STACK) from None


if __name__ == "__main__":
    app()
