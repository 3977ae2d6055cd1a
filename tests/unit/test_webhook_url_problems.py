"""How the API answers a webhook URL it judged (api/webhook_urls.py), with fake resolvers:
nothing is looked up."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from api.errors import Problem
from api.webhook_urls import vet_webhook_url
from domain.outbound_urls import Resolver
from models.settings import Settings


def settings(env: str = "dev", allowed: str = "") -> Settings:
    return Settings.model_validate(
        {
            "FULFILLMENT_ENV": env,
            "FULFILLMENT_WEBHOOK_ALLOWED_HOSTS": allowed,
            "FULFILLMENT_PLATFORM_KEY": "p" * 32,
            "FULFILLMENT_OPS_KEY": "o" * 32,
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "SHIPPO_WEBHOOK_TOKEN": "t",
        }
    )


def answering(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolve


def failing(error: OSError) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[str]:
        raise error

    return resolve


async def test_a_name_resolving_to_a_public_address_is_accepted_as_written() -> None:
    url = "https://hooks.vendor.test/fulfillment"

    assert await vet_webhook_url(url, settings(), answering("93.184.215.14")) == url


async def test_a_name_resolving_to_a_private_address_is_a_422_naming_the_rule() -> None:
    with pytest.raises(Problem) as refused:
        await vet_webhook_url("https://hooks.vendor.test/", settings(), answering("10.0.0.7"))

    assert (refused.value.code, refused.value.extra) == ("validation_error", {"rule": "private"})
    assert refused.value.detail == (
        "webhook url refused: hooks.vendor.test resolves to 10.0.0.7, a private address"
    )


async def test_a_name_that_does_not_exist_is_a_422_and_a_silent_dns_server_a_503() -> None:
    missing = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    silent = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(Problem) as unknown:
        await vet_webhook_url("https://nowhere.vendor.test/", settings(), failing(missing))
    with pytest.raises(Problem) as later:
        await vet_webhook_url("https://slow.vendor.test/", settings(), failing(silent))
    with pytest.raises(Problem) as timed_out:
        await vet_webhook_url("https://slow.vendor.test/", settings(), failing(TimeoutError()))

    assert (unknown.value.code, unknown.value.extra) == (
        "validation_error",
        {"rule": "unresolvable"},
    )
    assert later.value.code == timed_out.value.code == "unavailable"


async def test_http_is_refused_outside_dev_and_the_allowed_pair_comes_from_the_settings() -> None:
    with pytest.raises(Problem) as plain:
        await vet_webhook_url("http://hooks.vendor.test/", settings("production"), answering())
    allowed = settings("dev", allowed="127.0.0.1:9000")

    assert plain.value.extra == {"rule": "scheme"}
    assert await vet_webhook_url("http://127.0.0.1:9000/h", allowed, answering()) == (
        "http://127.0.0.1:9000/h"
    )
