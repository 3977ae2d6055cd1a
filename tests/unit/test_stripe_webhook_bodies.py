"""A Stripe webhook is read as Stripe signs it: its signature checked by the SDK, its body
taken as the JSON it is. A signed body that is no event is a 400 (invalid_payload), never a
500, whatever its bytes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from providers.errors import ProviderRejectedError
from providers.stripe_webhooks import verified_event

SECRET = "whsec_unit_secret"


def signed(body: bytes, secret: str = SECRET, at: int | None = None) -> tuple[bytes, str]:
    # Stripe signs the body's text; a body that is not UTF-8 has none, any header will do.
    text = body.decode("utf-8", errors="replace")
    return body, stripe.WebhookSignature.generate_signature_header(text, secret, timestamp=at)


def event(**fields: Any) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "object": "event",
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "ch_1", "object": "charge", "amount": 500, "metadata": {}}},
        **fields,
    }


def test_a_signed_event_is_the_json_stripe_sent_field_for_field() -> None:
    body = json.dumps(event()).encode()
    payload, header = signed(body)
    assert verified_event(payload, header, SECRET) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"not json",
        b"[1, 2, 3]",
        b'"an event"',
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({**event(), "object": "v2.core.event"}).encode(),
        json.dumps(event(data=[])).encode(),
    ],
    ids=["not utf-8", "not json", "a list", "a string", "nested past reason", "thin", "data list"],
)
def test_a_signed_body_that_is_no_event_is_refused_as_a_bad_payload(body: bytes) -> None:
    with pytest.raises(ProviderRejectedError) as refused:
        verified_event(*signed(body), SECRET)
    assert (refused.value.code, refused.value.http_status) == ("invalid_payload", 400)


@pytest.mark.parametrize("case", ["forged", "stale", "missing", "tampered"])
def test_a_body_whose_signature_does_not_hold_is_refused_before_it_is_read(case: str) -> None:
    body = json.dumps(event()).encode()
    payload, header = signed(body)
    if case == "forged":
        payload, header = signed(body, secret="whsec_someone_else")
    elif case == "stale":
        payload, header = signed(body, at=int(time.time()) - 600)
    elif case == "tampered":
        payload = body.replace(b"500", b"1")
    with pytest.raises(ProviderRejectedError) as refused:
        verified_event(payload, None if case == "missing" else header, SECRET)
    assert (refused.value.code, refused.value.http_status) == ("invalid_signature", 400)
