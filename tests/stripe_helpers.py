"""Running the Stripe emulator in-process for tests, reaching its controls, and receiving its
webhooks (tests/emulators, tests/integration, tests/activities, tests/e2e)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

import httpx
import stripe
import uvicorn
from starlette.types import ASGIApp

from providers.stripe_adapter import ChargeResult, StripeGateway
from tests.loopback_receiver import LoopbackReceiver

API_KEY = "sk_test_emulator"


@contextmanager
def running_emulator(app: ASGIApp) -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port in a background thread; yields its base URL."""
    # IPPROTO_TCP explicitly: asyncio only disables Nagle on sockets that name it, and without
    # that every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Lifespan on: the emulator starts its webhook delivery there and stops it on the way out.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"stripe-emulator-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Stripe emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@asynccontextmanager
async def sdk_client(base_url: str, api_key: str = API_KEY) -> AsyncIterator[stripe.StripeClient]:
    """The official SDK pointed at the emulator; its connections are closed on the way out."""
    http_client = stripe.HTTPXClient(timeout=5.0)
    try:
        yield stripe.StripeClient(
            api_key,
            base_addresses={"api": base_url},
            http_client=http_client,
            max_network_retries=0,
        )
    finally:
        await http_client.close_async()


async def control(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """The emulator's own test controls, which are plain JSON rather than Stripe's API."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        response = await http.request(method, path, json=body)
    response.raise_for_status()
    return response.json()


async def lose_the_next_answer(emulator_url: str, path: str = "/v1/transfers") -> None:
    """The next POST under `path` is made, and its answer never reaches the caller."""
    plan = {
        "rate": 1.0,
        "modes": ["timeout_after"],
        "methods": ["POST"],
        "paths": [path],
        "count": 1,
        "timeout_seconds": 2.0,
    }
    await control(emulator_url, "POST", "/_emulator/faults", plan)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


WEBHOOK_SECRET = "whsec_emulator_test"
# Retries in tests come quickly: ten attempts within a second.
FAST_RETRIES = [0.05] * 9


@dataclass
class Received:
    body: bytes
    signature: str | None

    @property
    def event(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.body))


class WebhookReceiver(LoopbackReceiver):
    """A small HTTP endpoint that records every webhook and answers as the test tells it.

    ``answer`` maps an event (and how many times it has arrived, this time included) to the
    status to reply with; ``delay`` holds each answer back that many seconds.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: Callable[[dict[str, Any], int], int] = lambda _event, _seen: 200
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(body, self.headers.get("Stripe-Signature")))
                    event = json.loads(body)
                    seen = sum(1 for r in receiver.received if r.event["id"] == event["id"])
                    status = receiver.answer(event, seen)
                time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._serve(Handler)
        self.url = f"http://127.0.0.1:{self.port}/v1/webhooks/stripe"

    def about(self, object_id: str) -> list[Received]:
        """What arrived about one object, in arrival order."""
        with self._lock:
            return [r for r in self.received if r.event["data"]["object"]["id"] == object_id]

    async def wait_for(self, object_id: str, count: int, within: float = 5.0) -> list[Received]:
        """Wait until ``count`` deliveries about the object arrived; fail the test otherwise."""
        deadline = time.monotonic() + within
        while len(found := self.about(object_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} webhooks about {object_id} came")
            await asyncio.sleep(0.02)
        return found


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.02)


async def paid_order(
    gateway: StripeGateway,
    amount: int = 5000,
    *,
    payment_method: str = "pm_card_visa",
    key: str | None = None,
    order_id: str | None = None,
    description: str | None = None,
) -> ChargeResult:
    """An order charged through the adapter, with the keys and transfer group the app uses."""
    order_id = order_id or unique("ord")
    return await gateway.charge(
        amount_cents=amount,
        currency="usd",
        payment_method=payment_method,
        transfer_group=f"order-{order_id}",
        metadata={"order_id": order_id},
        idempotency_key=key or f"{order_id}:charge",
        description=description,
    )
