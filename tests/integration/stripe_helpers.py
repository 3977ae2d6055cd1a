"""Running the Stripe emulator in-process for integration tests, and reaching its controls."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import stripe
import uvicorn
from starlette.types import ASGIApp

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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
