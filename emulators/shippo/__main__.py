"""Run the Shippo emulator: ``python -m emulators.shippo --port 12112``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from .app import DEFAULT_AUTO_ADVANCE_SECONDS, create_app
from .webhooks import DEFAULT_RETRY_SCHEDULE, parse_schedule


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.shippo")
    parser.add_argument("--host", default=os.environ.get("SHIPPO_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("SHIPPO_EMULATOR_PORT", "12112"))
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=os.environ.get("SHIPPO_EMULATOR_STATE_FILE") or None,
        help="JSON file that keeps the emulator's objects across restarts (default: memory)",
    )
    parser.add_argument(
        "--webhook-url",
        default=os.environ.get("SHIPPO_EMULATOR_WEBHOOK_URL"),
        help="where track_updated webhooks go, with its ?token=... (default: none are sent)",
    )
    parser.add_argument(
        "--auto-advance-seconds",
        type=float,
        default=float(
            os.environ.get("SHIPPO_EMULATOR_AUTO_ADVANCE_SECONDS", DEFAULT_AUTO_ADVANCE_SECONDS)
        ),
        help="time between the steps of the test carrier's parcels (default: %(default)s)",
    )
    parser.add_argument(
        "--webhook-retry-schedule",
        type=parse_schedule,
        default=os.environ.get("SHIPPO_EMULATOR_WEBHOOK_RETRY_SCHEDULE")
        or ",".join(f"{delay:g}" for delay in DEFAULT_RETRY_SCHEDULE),
        help="seconds to wait before each retry of a failed webhook, comma-separated; "
        "one attempt more than listed is made in all (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    app = create_app(
        Path(args.state_file) if args.state_file else None,
        args.webhook_url,
        auto_advance_seconds=args.auto_advance_seconds,
        webhook_retry_schedule=args.webhook_retry_schedule,
    )
    # A request held by an emulated timeout must not hold up a shutdown for long.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
