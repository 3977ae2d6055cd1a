"""The API keeps an idle client connection open longer than clients and load balancers keep
theirs: a request sent just as the server closes its side is lost (found by the long
simulation, seed 800: a GET on a pooled connection ended in a transport error)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from devstack.stack import DevStack

# uvicorn closes an idle connection after 5 s unless told otherwise.
UVICORN_DEFAULT_SECONDS = 5


async def _get_healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await asyncio.wait_for(reader.readexactly(length), timeout=30)
    return head.split(b"\r\n", 1)[0]


async def test_an_idle_connection_outlives_the_servers_default_keep_alive(
    stack: DevStack,
) -> None:
    address = urlsplit(stack.api_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        # Given a connection that has served one request
        assert (await _get_healthz(reader, writer)).endswith(b"200 OK")
        # When it stays idle past uvicorn's default keep-alive
        await asyncio.sleep(UVICORN_DEFAULT_SECONDS + 1.5)
        # Then the server has not closed it, and it serves the next request
        assert not reader.at_eof()
        assert (await _get_healthz(reader, writer)).endswith(b"200 OK")
    finally:
        writer.close()
