"""Run the Shippo emulator: ``python -m emulators.shippo --port 12112``."""

from __future__ import annotations

import os

import uvicorn

from emulators.cli import add_retry_schedule, emulator_parser, state_file

from .app import DEFAULT_AUTO_ADVANCE_SECONDS, create_app
from .webhooks import DEFAULT_RETRY_SCHEDULE

ENV = "SHIPPO_EMULATOR"


def main(argv: list[str] | None = None) -> None:
    parser = emulator_parser("shippo", ENV, 12112)
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get(f"{ENV}_WEBHOOK_URL"),
        help="where track_updated webhooks go, with its ?token=... (default: none are sent)",
    )
    parser.add_argument(
        "--auto-advance-seconds",
        type=float,
        default=float(os.environ.get(f"{ENV}_AUTO_ADVANCE_SECONDS", DEFAULT_AUTO_ADVANCE_SECONDS)),
        help="time between the steps of the test carrier's parcels (default: %(default)s)",
    )
    add_retry_schedule(parser, ENV, DEFAULT_RETRY_SCHEDULE)
    args = parser.parse_args(argv)
    app = create_app(
        state_file(args),
        args.webhook_url,
        auto_advance_seconds=args.auto_advance_seconds,
        webhook_retry_schedule=args.webhook_retry_schedule,
    )
    # A request held by an emulated timeout must not hold up a shutdown for long.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
