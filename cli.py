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
def migrate() -> None:
    """Bring the database schema up to date."""
    from migrations import upgrade
    from models.settings import get_settings

    upgrade(get_settings().database_url)
    typer.echo("database schema is up to date")


if __name__ == "__main__":
    app()
