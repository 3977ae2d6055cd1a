"""The simulation's own stacks: short timers so whole lives fit in seconds, its own task
queue, and the providers' webhooks routed through the relay (the network that reorders them)."""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

import httpx

from devstack.stack import DevStack, Ports
from tests.simulation.relay import Relay, RelayPolicy, running_relay

SETTINGS = {
    "FULFILLMENT_ENV": "test",
    "FULFILLMENT_TASK_QUEUE": "fulfillment-simulation",
    "FULFILLMENT_RETURN_WINDOW": "3",
    "FULFILLMENT_RETURN_EXPIRES_AFTER": "4",
    "FULFILLMENT_PAYOUT_RETRY_AFTER": "1",
    "FULFILLMENT_AUTO_CANCEL_AFTER": "3",
    "FULFILLMENT_DELIVERY_OVERDUE_AFTER": "20",
    "FULFILLMENT_CHECKOUT_TIMEOUT": "15",
    # Faults are injected: a call that hangs is given up on fast, then retried.
    "STRIPE_TIMEOUT_SECONDS": "2",
    "SHIPPO_TIMEOUT_SECONDS": "2",
}


class SimStacks:
    """The simulation's stacks, one at a time. A long invocation starts a fresh one every
    SIM_RUNS_PER_STACK runs, so that one run's leftovers (a worker's sticky cache, a full
    emulator journal, the dev Temporal server's SQLite) never pace the runs after it."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made = 0
        self._current: tuple[DevStack, Relay, ExitStack] | None = None

    def fresh(self) -> tuple[DevStack, Relay]:
        self.close()
        self._made += 1
        stack = DevStack(self._folder / f"stack{self._made}", Ports.free(), overrides=SETTINGS)
        stack.start(log=lambda _: None)
        exits = ExitStack()
        exits.callback(stack.stop, log=lambda _: None)
        try:
            relay = exits.enter_context(running_relay(Relay(stack.api_url, RelayPolicy(seed=0))))
            _route_webhooks_through(stack, relay)
        except BaseException:
            exits.close()
            raise
        self._current = (stack, relay, exits)
        return stack, relay

    def close(self) -> None:
        if self._current is not None:
            stack = self._current[0]
            self._current[2].close()
            self._current = None
            if not os.environ.get("SIM_KEEP"):  # SIM_KEEP=1 keeps logs and data to look into
                shutil.rmtree(stack.data_dir, ignore_errors=True)


def _route_webhooks_through(stack: DevStack, relay: Relay) -> None:
    token = quote(stack.env["SHIPPO_WEBHOOK_TOKEN"], safe="")
    for base, url in (
        (stack.env["STRIPE_API_BASE"], f"{relay.url}/v1/webhooks/stripe"),
        (stack.env["SHIPPO_API_BASE"], f"{relay.url}/v1/webhooks/shippo?token={token}"),
    ):
        answer = httpx.post(f"{base}/_emulator/webhooks/config", json={"url": url}, timeout=10)
        assert answer.status_code == 200, answer.text
