"""FULFILLMENT_WEBHOOK_ALLOWED_HOSTS: empty by default, exact host:port pairs, a typo refuses
to start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from models.settings import Settings


def test_by_default_no_host_is_allowed_past_the_address_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FULFILLMENT_WEBHOOK_ALLOWED_HOSTS", raising=False)

    assert Settings().webhook_allowed_hosts == frozenset()


def test_the_allowed_hosts_are_read_from_the_environment_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "FULFILLMENT_WEBHOOK_ALLOWED_HOSTS", "127.0.0.1:9000, LocalHost:9000,[::1]:9"
    )

    assert Settings().webhook_allowed_hosts == frozenset(
        {"127.0.0.1:9000", "localhost:9000", "[::1]:9"}
    )


@pytest.mark.parametrize("value", ["127.0.0.1", "*:9000", "127.0.0.1:0", "http://127.0.0.1:9000"])
def test_an_entry_that_is_not_an_exact_host_port_pair_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FULFILLMENT_WEBHOOK_ALLOWED_HOSTS", value)

    with pytest.raises(ValidationError, match="is not an exact host:port pair"):
        Settings()
