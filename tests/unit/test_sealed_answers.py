"""Idempotent answers are kept sealed under a key only their caller holds
(api/sealed_answers.py): the vendor API key in an onboarding answer never sits in clear in
the database, and only the same caller's retry opens it."""

from __future__ import annotations

from typing import Any

import pytest

from api.sealed_answers import MARK, Unsealable, open_sealed, seal

BODY = b'{"id":"ven_1","api_key":"vk_live_secret_once"}'
WHO: dict[str, Any] = {
    "token": "ops-token",
    "scope": "ops",
    "idempotency_key": "k-1",
    "status": 201,
    "headers": [("content-type", "application/json"), ("location", "/v1/vendors/ven_1")],
}


def test_the_same_caller_and_key_open_what_was_sealed() -> None:
    sealed = seal(BODY, **WHO)
    assert open_sealed(sealed, **WHO) == BODY


def test_a_sealed_answer_shows_nothing_of_its_body() -> None:
    sealed = seal(BODY, **WHO)
    assert sealed.startswith(MARK)
    assert b"vk_live_secret_once" not in sealed
    assert b"ven_1" not in sealed
    # A fresh nonce each time: two seals of one body differ.
    assert seal(BODY, **WHO) != sealed


@pytest.mark.parametrize(
    "other",
    [
        {"token": "another-token"},  # a rotated or stolen-elsewhere credential
        {"scope": "vendor:ven_9"},
        {"idempotency_key": "k-2"},  # a sealed body copied under another key
        {"status": 200},  # its status or headers changed in the database
        {"headers": [("content-type", "application/json"), ("location", "/elsewhere")]},
    ],
)
def test_anyone_else_cannot_open_it(other: dict[str, Any]) -> None:
    sealed = seal(BODY, **WHO)
    with pytest.raises(Unsealable):
        open_sealed(sealed, **{**WHO, **other})


def test_an_altered_sealed_answer_does_not_open() -> None:
    sealed = bytearray(seal(BODY, **WHO))
    sealed[-1] ^= 0x01
    with pytest.raises(Unsealable):
        open_sealed(bytes(sealed), **WHO)


def test_an_answer_kept_before_sealing_existed_is_given_as_it_was() -> None:
    assert open_sealed(BODY, **WHO) == BODY
    assert open_sealed(b"", **WHO) == b""
