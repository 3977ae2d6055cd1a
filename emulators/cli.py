"""The command line both emulators share (``python -m emulators.stripe``, ``... .shippo``):
where to listen, where to keep state, and how to retry webhooks. Each emulator adds its own
arguments between the first three and the retry schedule."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from emulators.webhooks import parse_schedule


def emulator_parser(name: str, env: str, port: int) -> argparse.ArgumentParser:
    """``--host``, ``--port`` and ``--state-file``, each defaulting to ``<env>_HOST``,
    ``<env>_PORT`` and ``<env>_STATE_FILE`` (``env`` is e.g. ``STRIPE_EMULATOR``)."""
    parser = argparse.ArgumentParser(prog=f"python -m emulators.{name}")
    parser.add_argument("--host", default=os.environ.get(f"{env}_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get(f"{env}_PORT", str(port))))
    parser.add_argument(
        "--state-file",
        type=Path,
        default=os.environ.get(f"{env}_STATE_FILE") or None,
        help="JSON file that keeps the emulator's objects across restarts (default: memory)",
    )
    return parser


def add_retry_schedule(parser: argparse.ArgumentParser, env: str, default: Sequence[float]) -> None:
    parser.add_argument(
        "--webhook-retry-schedule",
        type=parse_schedule,
        default=os.environ.get(f"{env}_WEBHOOK_RETRY_SCHEDULE")
        or ",".join(f"{delay:g}" for delay in default),
        help="seconds to wait before each retry of a failed webhook, comma-separated; "
        "one attempt more than listed is made in all (default: %(default)s)",
    )


def state_file(args: argparse.Namespace) -> Path | None:
    return Path(args.state_file) if args.state_file else None
