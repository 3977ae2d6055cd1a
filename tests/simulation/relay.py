"""The network between the providers and the API: Stripe and Shippo promise at-least-once
delivery in no particular order, so the simulation puts a relay on their webhook URLs that
sometimes delivers an event twice, late, or after the next one.

The relay answers the emulator with the API's own answer when it forwards at once (so the
emulator's retries still apply); an event it holds back is acknowledged at once and then
delivered by the relay itself until the API takes it, as Stripe would.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Headers that make an event what it is (the signature covers the body only).
_KEPT = ("content-type", "stripe-signature", "user-agent")
Match = Callable[[str, dict[str, Any]], bool]


@dataclass
class Hold:
    """Hold back the next event matching `match` for `seconds` (one-shot)."""

    match: Match
    seconds: float


@dataclass
class RelayPolicy:
    seed: int
    duplicate_rate: float = 0.08
    delay_rate: float = 0.08
    max_delay_seconds: float = 3.0
    holds: list[Hold] = field(default_factory=list)
    enabled: bool = True

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def reseed(self, seed: int) -> None:
        """A new run: its own random draws, chaos on, no holds left from the last one."""
        with self._lock:
            self.seed = seed
            self._random = random.Random(seed)
            self.holds.clear()
            self.enabled = True

    def hold_next(self, match: Match, seconds: float) -> None:
        with self._lock:
            self.holds.append(Hold(match, seconds))

    def decide(self, path: str, event: dict[str, Any]) -> tuple[float, bool]:
        """(seconds to hold it back, whether to deliver it a second time)."""
        with self._lock:
            if not self.enabled:
                return 0.0, False
            for hold in self.holds:
                if hold.match(path, event):
                    self.holds.remove(hold)
                    return hold.seconds, False
            delay = 0.0
            if self._random.random() < self.delay_rate:
                delay = self._random.uniform(0.2, self.max_delay_seconds)
            return delay, self._random.random() < self.duplicate_rate


class Relay:
    def __init__(self, api_url: str, policy: RelayPolicy) -> None:
        self.api_url = api_url.rstrip("/")
        self.policy = policy
        self.forwarded = 0
        self.duplicated = 0
        self.held = 0
        self.gave_up: list[str] = []
        self._pending = 0
        self._lock = threading.Lock()
        self._http: httpx.AsyncClient | None = None
        self.url = ""

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{target:path}", self._forward, methods=["POST"])])

    async def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=60, trust_env=False)
        return self._http

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() in _KEPT}
        target = f"{self.api_url}/{request.path_params['target']}"
        if request.url.query:
            target += f"?{request.url.query}"
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        delay, twice = self.policy.decide(
            request.url.path, event if isinstance(event, dict) else {}
        )
        if delay > 0:
            self.held += 1
            self._later(target, body, headers, delay)
            return Response('{"relayed": "later"}', media_type="application/json")
        client = await self._client()
        try:
            answer = await client.post(target, content=body, headers=headers)
        except httpx.HTTPError as error:
            return Response(f'{{"relay_error": "{type(error).__name__}"}}', status_code=502)
        self.forwarded += 1
        if twice and answer.status_code < 300:
            self.duplicated += 1
            self._later(target, body, headers, 0.05)
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    def _later(self, target: str, body: bytes, headers: dict[str, str], delay: float) -> None:
        with self._lock:
            self._pending += 1
        asyncio.get_running_loop().create_task(self._deliver_later(target, body, headers, delay))

    async def _deliver_later(
        self, target: str, body: bytes, headers: dict[str, str], delay: float
    ) -> None:
        """Deliver until the API takes it (2xx), as the provider would: 5xx and network errors
        are tried again, a 4xx is final."""
        try:
            await asyncio.sleep(delay)
            client = await self._client()
            for attempt in range(90):
                try:
                    answer = await client.post(target, content=body, headers=headers)
                except httpx.HTTPError:
                    await asyncio.sleep(min(1.0 + attempt, 5.0))
                    continue
                if answer.status_code < 300:
                    self.forwarded += 1
                    return
                if answer.status_code < 500 and answer.status_code != 429:
                    self.gave_up.append(
                        f"{answer.status_code} {answer.text[:200]} for {body[:200]!r}"
                    )
                    return
                await asyncio.sleep(min(1.0 + attempt, 5.0))
            self.gave_up.append(f"never taken: {body[:200]!r}")
        finally:
            with self._lock:
                self._pending -= 1


@contextmanager
def running_relay(relay: Relay) -> Iterator[Relay]:
    """Serve the relay on a free 127.0.0.1 port in a thread of its own (its event loop keeps
    delivering while the simulation's is busy)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(relay.app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sim-relay", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the webhook relay did not start")
        time.sleep(0.01)
    relay.url = f"http://127.0.0.1:{port}"
    try:
        yield relay
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
