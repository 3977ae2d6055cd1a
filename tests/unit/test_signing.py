"""Vendor webhook signatures: a vendor accepts exactly what we sent, recently, with its secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import ErrorCode
from domain.signing import SIGNATURE_HEADER, InvalidSignature, new_secret, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":"vo_1.created","type":"vendor_order.created"}'
SENT_AT = 1_700_000_000


def reason(error: pytest.ExceptionInfo[InvalidSignature]) -> object:
    return error.value.extra["reason"]


def test_the_header_is_the_timestamp_and_the_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{SENT_AT}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, SENT_AT, BODY) == f"t={SENT_AT},v1={expected}"
    assert SIGNATURE_HEADER == "Fulfillment-Signature"


def test_a_delivery_signed_with_the_vendors_secret_is_accepted() -> None:
    header = sign(SECRET, SENT_AT, BODY)

    verify(SECRET, header, BODY, now=SENT_AT + 10)


def test_a_tampered_body_is_refused() -> None:
    header = sign(SECRET, SENT_AT, BODY)

    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, header, BODY.replace(b"created", b"cancelled"), now=SENT_AT)

    assert reason(refused) == "mismatch"


def test_a_delivery_signed_with_another_secret_is_refused() -> None:
    header = sign("whsec_other", SENT_AT, BODY)

    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, header, BODY, now=SENT_AT)

    assert reason(refused) == "mismatch"


def test_a_changed_timestamp_breaks_the_signature() -> None:
    signature = sign(SECRET, SENT_AT, BODY).split(",")[1]

    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, f"t={SENT_AT + 1},{signature}", BODY, now=SENT_AT)

    assert reason(refused) == "mismatch"


@pytest.mark.parametrize("skew", [301, -301])
def test_a_signature_older_or_newer_than_five_minutes_is_refused(skew: int) -> None:
    header = sign(SECRET, SENT_AT, BODY)

    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, header, BODY, now=SENT_AT + skew)

    assert reason(refused) == "expired"


@pytest.mark.parametrize("skew", [300, -300])
def test_a_signature_exactly_at_the_tolerance_is_accepted(skew: int) -> None:
    verify(SECRET, sign(SECRET, SENT_AT, BODY), BODY, now=SENT_AT + skew)


def test_the_tolerance_can_be_chosen_by_the_receiver() -> None:
    header = sign(SECRET, SENT_AT, BODY)

    with pytest.raises(InvalidSignature):
        verify(SECRET, header, BODY, now=SENT_AT + 61, tolerance=60)
    verify(SECRET, header, BODY, now=SENT_AT + 3600, tolerance=3600)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        f"v1={'0' * 64}",
        f"t={SENT_AT}",
        f"t=soon,v1={'0' * 64}",
        f"t=-5,v1={'0' * 64}",
        f"t={SENT_AT},t={SENT_AT},v1={'0' * 64}",
        f"t={SENT_AT},v1=",
        f"t={SENT_AT},v0={'0' * 64}",
    ],
)
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, header, BODY, now=SENT_AT)

    assert reason(refused) == "malformed"


def test_a_non_ascii_signature_is_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, f"t={SENT_AT},v1=é", BODY, now=SENT_AT)

    assert reason(refused) == "mismatch"


def test_during_a_secret_rotation_either_secret_verifies_a_header_signed_with_both() -> None:
    old, new = "whsec_old", "whsec_new"
    with_new = sign(new, SENT_AT, BODY).split(",")[1]
    header = f"{sign(old, SENT_AT, BODY)},{with_new}"

    verify(old, header, BODY, now=SENT_AT)
    verify(new, header, BODY, now=SENT_AT)
    with pytest.raises(InvalidSignature):
        verify("whsec_third", header, BODY, now=SENT_AT)


def test_unknown_schemes_beside_v1_are_ignored() -> None:
    header = f"{sign(SECRET, SENT_AT, BODY)},v2=future"

    verify(SECRET, header, BODY, now=SENT_AT)


def test_a_refusal_is_a_validation_error_that_says_why() -> None:
    with pytest.raises(InvalidSignature) as refused:
        verify(SECRET, "garbage", BODY, now=SENT_AT)

    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert refused.value.extra == {"reason": "malformed"}


def test_new_secrets_are_prefixed_random_and_fit_the_vendor_column() -> None:
    secrets = {new_secret() for _ in range(100)}

    assert len(secrets) == 100
    assert all(s.startswith("whsec_") and len(s) <= 80 for s in secrets)
    # 32 random bytes, URL-safe base64 without padding.
    assert {len(s) for s in secrets} == {len("whsec_") + 43}


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(min_size=1),
    other=st.text(min_size=1),
    body=st.binary(),
    timestamp=st.integers(0, 2**40),
    skew=st.integers(-300, 300),
    flip=st.integers(0, 10_000),
)
def test_any_signed_body_verifies_and_any_change_to_it_or_the_secret_does_not(
    secret: str, other: str, body: bytes, timestamp: int, skew: int, flip: int
) -> None:
    header = sign(secret, timestamp, body)

    verify(secret, header, body, now=timestamp + skew)
    if other != secret:
        with pytest.raises(InvalidSignature):
            verify(other, header, body, now=timestamp)
    index = flip % len(body) if body else 0
    tampered = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :] if body else b"\0"
    with pytest.raises(InvalidSignature):
        verify(secret, header, tampered, now=timestamp)
