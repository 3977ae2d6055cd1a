"""Settings: durations as API.md writes them, and no default secrets outside dev."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY, Settings


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FULFILLMENT_") or name.startswith("STRIPE_"):
            monkeypatch.delenv(name)


def test_durations_are_read_as_iso_8601_or_seconds() -> None:
    settings = Settings(FULFILLMENT_RETURN_WINDOW="PT72H", FULFILLMENT_AUTO_CANCEL_AFTER="90")
    assert settings.return_window == timedelta(hours=72)
    assert settings.auto_cancel_after == timedelta(seconds=90)


def test_the_defaults_match_the_contract() -> None:
    settings = Settings()
    assert (settings.return_window, settings.auto_cancel_after) == (
        timedelta(days=14),
        timedelta(days=2),
    )
    assert (settings.delivery_overdue_after, settings.api_port) == (timedelta(days=10), 8000)


def test_dev_keys_are_refused_outside_dev() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(FULFILLMENT_ENV="production", STRIPE_WEBHOOK_SECRET="whsec_real")
    assert "FULFILLMENT_PLATFORM_KEY" in str(refused.value)
    assert "FULFILLMENT_OPS_KEY" in str(refused.value)
    assert "SHIPPO_WEBHOOK_TOKEN" in str(refused.value)


def test_real_keys_start_outside_dev() -> None:
    settings = Settings(
        FULFILLMENT_ENV="production",
        FULFILLMENT_PLATFORM_KEY="p" * 32,
        FULFILLMENT_OPS_KEY="o" * 32,
        STRIPE_WEBHOOK_SECRET="whsec_real",
        SHIPPO_WEBHOOK_TOKEN="t" * 32,
    )
    assert (settings.platform_key, settings.is_dev) == ("p" * 32, False)
    assert DEV_PLATFORM_KEY != settings.platform_key and DEV_OPS_KEY != settings.ops_key


def test_short_bootstrap_keys_are_refused_outside_dev() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(
            FULFILLMENT_ENV="production",
            FULFILLMENT_PLATFORM_KEY="p" * 31,
            FULFILLMENT_OPS_KEY="o" * 32,
            STRIPE_WEBHOOK_SECRET="whsec_real",
            SHIPPO_WEBHOOK_TOKEN="t" * 32,
        )
    assert "FULFILLMENT_PLATFORM_KEY" in str(refused.value)
    assert "FULFILLMENT_OPS_KEY" not in str(refused.value)
