"""Run the Stripe emulator: ``python -m emulators.stripe --port 12111``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from .app import create_app
from .webhooks import DEFAULT_RETRY_SCHEDULE, parse_schedule


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.stripe")
    parser.add_argument("--host", default=os.environ.get("STRIPE_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("STRIPE_EMULATOR_PORT", "12111"))
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=os.environ.get("STRIPE_EMULATOR_STATE_FILE") or None,
        help="JSON file that keeps the emulator's objects across restarts (default: memory)",
    )
    parser.add_argument("--webhook-url", default=os.environ.get("STRIPE_EMULATOR_WEBHOOK_URL"))
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET"))
    parser.add_argument(
        "--webhook-retry-schedule",
        type=parse_schedule,
        default=os.environ.get("STRIPE_EMULATOR_WEBHOOK_RETRY_SCHEDULE")
        or ",".join(f"{delay:g}" for delay in DEFAULT_RETRY_SCHEDULE),
        help="seconds to wait before each retry of a failed webhook, comma-separated; "
        "one attempt more than listed is made in all (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    state_file = Path(args.state_file) if args.state_file else None
    app = create_app(
        state_file,
        args.webhook_url,
        args.webhook_secret,
        webhook_retry_schedule=args.webhook_retry_schedule,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
