"""A TCP proxy on loopback that can be cut: a dependency "goes down" for one app under test
while the shared stack's server keeps running for every other test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a dead server would."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server = await asyncio.open_connection(*self._target)
        except OSError:
            client.transport.abort()
            return
        self._links |= {client, server}
        await asyncio.gather(
            _pipe(client_reader, server), _pipe(server_reader, client), return_exceptions=True
        )
        self._links -= {client, server}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@asynccontextmanager
async def proxy_to(host: str, port: int) -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(host, port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()
