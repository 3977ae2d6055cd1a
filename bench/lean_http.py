"""A lean HTTP/1.1 client for a benchmark's crowd: requests encoded before the clock starts,
sent over keep-alive connections opened ahead, answers parsed no further than status, headers
and body.

Why not httpx: on this 2-core machine the load generator shares the CPU with the servers it
measures. A flash sale of 500 checkouts through httpx cost the generator about 20 ms of CPU
per request (10.3 CPU-seconds for 500 refusals, more than the API's 4.2): refusals the API
answered in 143 ms at the median were seen after 5.5 s, the generator's own queue. This
client spends a small fraction of that, so what it times is the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


def encode_request(
    method: str, path: str, host: str, headers: Mapping[str, str], body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of a response head (its lines up to the blank one)."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(rest.split(" ", 1)[0]), headers


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.open = True

    async def exchange(self, request: bytes) -> Answer:
        """Send one encoded request and read its answer (Content-Length bodies only: the
        API answers JSON with a length)."""
        try:
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, headers = parse_head(head[:-4])
            if "chunked" in headers.get("transfer-encoding", ""):
                raise ValueError("chunked answers are not read by this client")
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            self.open = False
            raise
        if headers.get("connection", "").lower() == "close":
            self.open = False
        return Answer(status, headers, body)

    async def close(self) -> None:
        self.open = False
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()


class Pool:
    """`size` connections to host:port, opened by `open`; each request takes an idle one (or a
    new one when one was lost) and gives it back."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._idle: asyncio.Queue[Connection] = asyncio.Queue()
        self._all: list[Connection] = []

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        connection = Connection(reader, writer)
        self._all.append(connection)
        return connection

    async def open(self) -> None:
        for connection in await asyncio.gather(*(self._connect() for _ in range(self.size))):
            self._idle.put_nowait(connection)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        connection = await self._idle.get()
        try:
            if not connection.open:
                connection = await self._connect()
            yield connection
        finally:
            if not connection.open:
                await connection.close()
            self._idle.put_nowait(connection)

    async def exchange(self, request: bytes) -> Answer:
        async with self.connection() as connection:
            return await connection.exchange(request)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self._all), return_exceptions=True)
