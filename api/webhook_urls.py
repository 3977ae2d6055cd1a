"""A vendor's webhook URL, judged when it is set (domain/outbound_urls.py): its text, then
every address its host resolves to now. Delivery judges them again (activities/webhook_sender.py):
a name may resolve elsewhere later."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends

from api.errors import Problem
from domain.errors import ErrorCode
from domain.outbound_urls import ForbiddenUrl, OutboundPolicy, Resolver, vet_url
from models.settings import Settings

# getaddrinfo's answers for a name that does not exist (as opposed to a DNS server that did
# not answer, which is worth trying again).
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


RESOLVE_TIMEOUT_SECONDS = 5.0


async def resolve_host(host: str, port: int) -> Sequence[str]:
    # A DNS server that does not answer must not hold the request (TimeoutError: 503).
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


async def _resolver() -> Resolver:
    return resolve_host


ResolverDep = Annotated[Resolver, Depends(_resolver)]


def policy_of(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy(allow_http=settings.is_dev, allowed_hosts=settings.webhook_allowed_hosts)


async def vet_webhook_url(url: str, settings: Settings, resolve: Resolver) -> str:
    """The URL, if the platform may call it; a 422 naming the rule otherwise."""
    try:
        await vet_url(url, policy_of(settings), resolve)
    except ForbiddenUrl as refused:
        raise Problem(
            ErrorCode.VALIDATION_ERROR, f"webhook url refused: {refused.detail}", rule=refused.rule
        ) from refused
    except OSError as error:
        if isinstance(error, socket.gaierror) and error.errno in _NO_SUCH_NAME:
            raise Problem(
                ErrorCode.VALIDATION_ERROR,
                "webhook url refused: its host name does not resolve",
                rule="unresolvable",
            ) from error
        raise Problem(
            ErrorCode.UNAVAILABLE, f"could not resolve the webhook's host now: {error}"
        ) from error
    return url
