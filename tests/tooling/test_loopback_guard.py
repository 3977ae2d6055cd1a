"""The test suite's safety net: its own clients connect to loopback only (tests/conftest.py
installs tests/loopback_guard.py for the whole session)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.loopback_guard import OffMachineConnection, is_loopback


@pytest.fixture
def local_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        (("127.0.0.1", 80), True),
        (("127.5.6.7", 80), True),
        (("::1", 80, 0, 0), True),
        (("::ffff:127.0.0.1", 80, 0, 0), True),
        (("localhost", 80), True),
        ("/tmp/socket", True),
        (("0.0.0.0", 80), False),
        (("10.0.0.1", 80), False),
        (("93.184.215.14", 443), False),
        (("2606:4700::1", 443, 0, 0), False),
        (("example.com", 443), False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(address: object, local: bool) -> None:
    assert is_loopback(address) is local


async def test_an_http_client_of_the_tests_cannot_connect_off_loopback(local_server: int) -> None:
    # 0.0.0.0 is refused like any address that is not loopback, and is safe to try: even
    # without the guard, Linux would connect it to this very machine.
    async with httpx.AsyncClient() as client:
        with pytest.raises(BaseException) as refused:
            await client.get(f"http://0.0.0.0:{local_server}/")
        answer = await client.get(f"http://127.0.0.1:{local_server}/")

    # anyio's connect may wrap it in an exception group; either way it is no network error.
    assert carries(refused.value, OffMachineConnection)
    assert answer.status_code == 204


def carries(error: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return any(carries(inner, kind) for inner in error.exceptions)
    return isinstance(error, kind)


def test_a_plain_socket_of_the_tests_cannot_connect_off_loopback(local_server: int) -> None:
    with socket.socket() as sock, pytest.raises(OffMachineConnection):
        sock.connect(("0.0.0.0", local_server))
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", local_server)) == 0
    with socket.socket() as sock, pytest.raises(OffMachineConnection):
        sock.connect_ex(("0.0.0.0", local_server))
