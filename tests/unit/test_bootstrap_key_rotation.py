"""Bootstrap keys (platform, ops) are rotated through settings: each variable may list several
keys, comma separated, all valid until removed (api/auth.py); outside dev every one of them
must be a real, long key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.auth import Role, bootstrap_role, looks_like_vendor_key, mint_vendor_key
from models.settings import DEV_PLATFORM_KEY, Settings

OLD, NEW, OPS = "a" * 32, "b" * 40, "o" * 32
REAL = {"STRIPE_WEBHOOK_SECRET": "whsec_real", "SHIPPO_WEBHOOK_TOKEN": "t" * 32}


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("FULFILLMENT_", "STRIPE_", "SHIPPO_")):
            monkeypatch.delenv(name)


def test_during_a_rotation_the_old_and_the_new_platform_key_both_work() -> None:
    settings = Settings(
        FULFILLMENT_ENV="production",
        FULFILLMENT_PLATFORM_KEY=f"{NEW}, {OLD}",
        FULFILLMENT_OPS_KEY=OPS,
        **REAL,
    )
    assert settings.platform_keys == (NEW, OLD)
    assert [bootstrap_role(k, settings) for k in (NEW, OLD, OPS)] == [
        Role.PLATFORM,
        Role.PLATFORM,
        Role.OPS,
    ]
    # Neither a part of a key nor the list itself is a key.
    assert bootstrap_role(NEW[:-1], settings) is None
    assert bootstrap_role(f"{NEW}, {OLD}", settings) is None


def test_once_removed_from_the_list_the_old_key_is_refused() -> None:
    settings = Settings(
        FULFILLMENT_ENV="production", FULFILLMENT_PLATFORM_KEY=NEW, FULFILLMENT_OPS_KEY=OPS, **REAL
    )
    assert bootstrap_role(OLD, settings) is None


@pytest.mark.parametrize("listed", [f"{NEW},{DEV_PLATFORM_KEY}", f"{NEW},short", " , "])
def test_a_dev_short_or_missing_key_in_the_list_is_refused_outside_dev(listed: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(
            FULFILLMENT_ENV="production",
            FULFILLMENT_PLATFORM_KEY=listed,
            FULFILLMENT_OPS_KEY=OPS,
            **REAL,
        )
    assert "FULFILLMENT_PLATFORM_KEY" in str(refused.value)
    assert "FULFILLMENT_OPS_KEY" not in str(refused.value)


def test_only_tokens_shaped_like_minted_vendor_keys_are_looked_up() -> None:
    assert looks_like_vendor_key(mint_vendor_key())
    for token in ("vk_short", "vk_" + "a" * 43 + "!", "xx_" + "a" * 43, "", DEV_PLATFORM_KEY):
        assert not looks_like_vendor_key(token)
