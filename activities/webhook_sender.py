"""POSTs to vendors' webhook URLs, and only to addresses the outbound rules allow.

The connection is made by a network backend that resolves the host itself, judges every
address (domain/outbound_urls.py) and connects to one it judged: no later lookup can point the
request elsewhere (DNS rebinding). The URL is left as it is, so the Host header, TLS's SNI and
the certificate check all use the vendor's name.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Sequence

import httpcore
import httpx

from domain.outbound_urls import (
    ForbiddenUrl,
    IPAddress,
    OutboundPolicy,
    OutboundTarget,
    Resolver,
    check_addresses,
    check_host,
    check_url,
)

RESOLVE_TIMEOUT_SECONDS = 10.0


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """The system's resolver (getaddrinfo, off the event loop), bounded in time: TimeoutError
    is an OSError, so a silent DNS server is a connection error, retried."""
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the outbound rules allow."""

    def __init__(self, policy: OutboundPolicy, resolve: Resolver) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface, passed by name)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # Judged here again: this is the host the connection is for, whatever the URL said.
        target = check_host(host, port, self._policy)
        if target.address is not None:
            addresses = [str(target.address)]
        else:
            # Even an allowed name is resolved here: the connection goes where we looked.
            addresses = [str(address) for address in await self._resolved(target)]
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def _resolved(self, target: OutboundTarget) -> tuple[IPAddress, ...]:
        try:
            answers = await self._resolve(target.host, target.port)
        except OSError as error:
            # The vendor's DNS may answer again later: a connection error, retried.
            raise httpcore.ConnectError(f"could not resolve {target.host}: {error}") from error
        return check_addresses(target, answers)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenUrl("host", "a webhook never goes to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: OutboundPolicy, resolve: Resolver) -> None:
        super().__init__()
        limits = httpx.Limits()
        # httpx takes no network backend, so its pool is rebuilt with ours (same settings).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolve),
        )


class WebhookSender:
    """The one way notifications leave the platform: URL checked, then a guarded POST."""

    def __init__(self, policy: OutboundPolicy, resolve: Resolver = resolve_host) -> None:
        self.policy = policy
        self._http = httpx.AsyncClient(
            transport=GuardedTransport(policy, resolve),
            # A redirect could carry the signed body to a host the vendor never named.
            follow_redirects=False,
            # No proxy from the environment: a proxy would resolve the name itself.
            trust_env=False,
        )

    def check(self, url: str) -> OutboundTarget:
        return check_url(url, self.policy)

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_seconds: float
    ) -> int:
        """The status the endpoint answered. Raises ForbiddenUrl when the URL or an address
        its host resolves to is refused, httpx.HTTPError when it cannot be reached."""
        self.check(url)
        # Streamed and never read: only the status matters, whatever the body's size.
        async with self._http.stream(
            "POST", url, content=body, headers=headers, timeout=timeout_seconds
        ) as response:
            return response.status_code

    async def aclose(self) -> None:
        await self._http.aclose()


__all__ = ["GuardedTransport", "WebhookSender", "resolve_host"]
