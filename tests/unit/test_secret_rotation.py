"""Rolling a platform endpoint's signing secret: both secrets sign until the replaced one
expires, then only the new one; a second rotation waits for the first to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.secret_rotation import (
    LONGEST_EXPIRY_SECONDS,
    RotationInProgress,
    rotate,
    secrets_in_use,
)
from domain.signing import InvalidSignature, sign_all, verify

NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
BODY = b'{"id":"evt_1","type":"order.confirmed"}'
SENT_AT = int(NOW.timestamp())


def test_a_rotation_keeps_the_replaced_secret_signing_until_its_expiry() -> None:
    rotated = rotate("whsec_old", None, NOW, 3600, "whsec_new")

    assert rotated.secret == "whsec_new"
    assert rotated.previous_secret == "whsec_old"
    assert rotated.previous_secret_expires_at == NOW + timedelta(hours=1)


def test_both_secrets_sign_before_the_expiry_and_only_the_new_one_from_it_on() -> None:
    expires = NOW + timedelta(hours=1)
    just_before = expires - timedelta(microseconds=1)

    assert secrets_in_use("whsec_new", "whsec_old", expires, just_before) == [
        "whsec_new",
        "whsec_old",
    ]
    assert secrets_in_use("whsec_new", "whsec_old", expires, expires) == ["whsec_new"]
    assert secrets_in_use("whsec_new", None, None, NOW) == ["whsec_new"]


def test_an_expiry_of_zero_keeps_no_replaced_secret_at_all() -> None:
    rotated = rotate("whsec_old", None, NOW, 0, "whsec_new")

    assert (rotated.previous_secret, rotated.previous_secret_expires_at) == (None, None)


def test_rotating_again_while_the_replaced_secret_is_live_is_refused() -> None:
    live_until = NOW + timedelta(seconds=1)

    with pytest.raises(RotationInProgress) as refused:
        rotate("whsec_new", live_until, NOW, 3600, "whsec_newer")

    assert refused.value.expires_at == live_until


def test_once_the_replaced_secret_expired_the_endpoint_can_be_rotated_again() -> None:
    rotated = rotate("whsec_new", NOW, NOW, 60, "whsec_newer")

    assert (rotated.secret, rotated.previous_secret) == ("whsec_newer", "whsec_new")


@pytest.mark.parametrize("seconds", [-1, LONGEST_EXPIRY_SECONDS + 1])
def test_an_expiry_out_of_range_is_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        rotate("whsec_old", None, NOW, seconds, "whsec_new")


def test_a_header_signed_with_both_secrets_has_one_timestamp_and_the_new_signature_first() -> None:
    header = sign_all(["whsec_new", "whsec_old"], SENT_AT, BODY)
    single = sign_all(["whsec_new"], SENT_AT, BODY)

    assert header.startswith(single + ",v1=")
    assert header.count("t=") == 1 and header.count("v1=") == 2
    verify("whsec_new", header, BODY, now=SENT_AT)
    verify("whsec_old", header, BODY, now=SENT_AT)
    with pytest.raises(InvalidSignature):
        verify("whsec_other", header, BODY, now=SENT_AT)


def test_a_delivery_is_never_signed_with_no_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        sign_all([], SENT_AT, BODY)
