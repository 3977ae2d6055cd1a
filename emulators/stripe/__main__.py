"""Run the Stripe emulator: ``python -m emulators.stripe --port 12111``."""

from __future__ import annotations

import os

import uvicorn

from emulators.cli import add_retry_schedule, emulator_parser, state_file

from .app import create_app
from .webhooks import DEFAULT_RETRY_SCHEDULE

ENV = "STRIPE_EMULATOR"


def main(argv: list[str] | None = None) -> None:
    parser = emulator_parser("stripe", ENV, 12111)
    parser.add_argument("--webhook-url", default=os.environ.get(f"{ENV}_WEBHOOK_URL"))
    # Named as the receiving side names it (the API's STRIPE_WEBHOOK_SECRET), not ENV_...
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET"))
    add_retry_schedule(parser, ENV, DEFAULT_RETRY_SCHEDULE)
    args = parser.parse_args(argv)
    app = create_app(
        state_file(args),
        args.webhook_url,
        args.webhook_secret,
        webhook_retry_schedule=args.webhook_retry_schedule,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
