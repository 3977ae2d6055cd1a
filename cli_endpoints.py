"""`fulfillment webhook-endpoints disabled`: the platform's event endpoints that kept failing and
were disabled, for an operator (docs/platform-events.md, "An endpoint that keeps failing").
Read from PostgreSQL like `fulfillment orders stuck` (cli.py), which also prints them."""

from __future__ import annotations

import json

import typer

from cli_support import console, read

endpoints_app = typer.Typer(no_args_is_help=True, help="The platform's event endpoints.")


@endpoints_app.command("disabled")
def endpoints_disabled(
    ctx: typer.Context,
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable"),
) -> None:
    """Disabled platform endpoints, longest first: last error, deliveries waiting."""
    from jobs import ops_report
    from models.base import utcnow
    from stores.ops_views import disabled_endpoints

    rows = read(ctx, lambda s: disabled_endpoints(s, limit=limit))
    now = utcnow()
    if as_json:
        typer.echo(json.dumps(ops_report.disabled_as_json(rows, now), indent=2))
    elif not rows:
        typer.echo(ops_report.NO_DISABLED_ENDPOINTS)
    else:
        console().print(ops_report.disabled_table(rows, now))
