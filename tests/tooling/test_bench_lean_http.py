"""The flash sale's lean HTTP client reads what a server answers, keeps its connections, and
opens another when the server closes one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.lean_http import Pool, encode_request, parse_head


class TinyServer:
    """Answers each request with its own path as the body; `/bye` also closes."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                path = head.split(b" ")[1]
                close = path == b"/bye"
                writer.write(
                    b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"Content-Length: %d\r\n\r\n" % len(path)
                    + path
                )
                await writer.drain()
                if close:
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[TinyServer, int]]:
    tiny = TinyServer()
    listening = await asyncio.start_server(tiny.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield tiny, port
    finally:
        listening.close()
        await listening.wait_closed()


async def test_answers_are_read_whole_and_connections_are_kept(
    server: tuple[TinyServer, int],
) -> None:
    tiny, port = server
    pool = Pool("127.0.0.1", port, 2)
    await pool.open()
    try:
        for n in range(6):
            request = encode_request("POST", f"/o/{n}", "h", {"X-Key": str(n)}, b'{"a": 1}')
            answer = await pool.exchange(request)
            assert (answer.status, answer.body) == (201, f"/o/{n}".encode())
            assert answer.headers["content-type"] == "text/plain"
    finally:
        await pool.close()
    assert tiny.connections == 2  # opened ahead, then reused
    assert tiny.requests[0].endswith(b'X-Key: 0\r\n\r\n{"a": 1}')
    assert b"Content-Length: 8\r\n" in tiny.requests[0]


async def test_a_connection_the_server_closes_is_replaced(server: tuple[TinyServer, int]) -> None:
    tiny, port = server
    pool = Pool("127.0.0.1", port, 1)
    await pool.open()
    try:
        assert (await pool.exchange(encode_request("GET", "/bye", "h", {}))).body == b"/bye"
        assert (await pool.exchange(encode_request("GET", "/again", "h", {}))).body == b"/again"
    finally:
        await pool.close()
    assert tiny.connections == 2


def test_a_response_head_gives_its_status_and_lower_case_headers() -> None:
    status, headers = parse_head(b"HTTP/1.1 409 Conflict\r\nServer-Timing: app;dur=1.5\r\nX: y")
    assert status == 409
    assert headers == {"server-timing": "app;dur=1.5", "x": "y"}
    with pytest.raises(ValueError):
        parse_head(b"SSH-2.0-OpenSSH\r\n")
