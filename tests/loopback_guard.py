"""A safety net for the test suite: no socket of this process connects off this machine.

Every client the tests use (httpx, the SDKs, redis, asyncio) connects through
`socket.socket.connect`/`connect_ex`, so guarding those two catches a test that would send a
request elsewhere, whatever library sends it. The error is not an OSError, so no client takes
it for a network failure and retries quietly.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import Any

LOCAL_NAMES = frozenset({"localhost"})


class OffMachineConnection(RuntimeError):
    """A test tried to connect somewhere other than this machine's loopback."""


def is_loopback(address: object) -> bool:
    """Whether a socket address (as given to connect) stays on this machine's loopback."""
    if not isinstance(address, tuple) or not address:
        return True  # Unix sockets and the like never leave the machine
    host = str(address[0]).split("%", 1)[0]
    if host.lower().removesuffix(".") in LOCAL_NAMES:
        return True
    try:
        parsed = ip_address(host)
    except ValueError:
        return False  # a name would be resolved by the connection itself: refuse to guess
    mapped = getattr(parsed, "ipv4_mapped", None)
    return bool((mapped or parsed).is_loopback)


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
            raise OffMachineConnection(f"tests connect only to loopback, not to {address!r}")
        return original(self, address)

    return connect


@contextmanager
def loopback_only() -> Iterator[None]:
    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = _guarded(saved[0])  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(saved[1])  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]
