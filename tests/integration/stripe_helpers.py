"""Running the Stripe emulator in-process for integration tests, and reaching its controls."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import stripe
import uvicorn
from starlette.types import ASGIApp

API_KEY = "sk_test_emulator"


@contextmanager
def running_emulator(app: ASGIApp) -> Iterator[str]:
    """Serve the app on a free 127.0.0.1 port in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
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


def sdk_client(base_url: str, timeout: float = 5.0) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY,
        base_addresses={"api": base_url},
        http_client=stripe.HTTPXClient(timeout=timeout),
        max_network_retries=0,
    )


async def control(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """The emulator's own test controls, which are plain JSON rather than Stripe's API."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        response = await http.request(method, path, json=body)
    response.raise_for_status()
    return response.json()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
