"""The `fulfillment` command: `dev` runs the embedded stack, `api` and `worker` run one part
each, the way a deployment runs them."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def dev(
    data_dir: str = typer.Option(".data", help="Where the embedded servers keep their data"),
) -> None:
    """Run the embedded stack in the foreground: PostgreSQL, Redis, Temporal + UI, the Stripe
    emulator, the API and the worker. Ctrl-C stops all of it."""
    from temporal.devstack import run_dev_stack

    raise typer.Exit(run_dev_stack(data_dir))


@app.command()
def api(
    host: str = typer.Option("127.0.0.1"),
    port: int | None = typer.Option(None, help="Default: FULFILLMENT_API_PORT"),
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api.app import create_app
    from models.settings import get_settings

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host, port=port or settings.api_port, log_level="info")


@app.command()
def worker() -> None:
    """Run a Temporal worker for the order sagas."""
    from worker import main

    main()


@app.command()
def reconcile(
    order: list[str] = typer.Option(None, help="Only these order ids (default: every order)"),
) -> None:
    """Compare the money ledger with Stripe; print every mismatch; exit 1 if there is one."""
    import asyncio

    from activities.reconcile import Reconciler
    from models.db import make_engine, make_sessionmaker
    from models.settings import get_settings
    from providers.stripe_adapter import StripeGateway

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

    raise typer.Exit(asyncio.run(run()))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from migrations import upgrade
    from models.settings import get_settings

    upgrade(get_settings().database_url)
    typer.echo("database schema is up to date")


if __name__ == "__main__":
    app()
