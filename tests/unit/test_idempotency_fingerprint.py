"""When two requests under one Idempotency-Key count as the same request, and which keys are
accepted (domain.idempotency)."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from domain.idempotency import (
    MAX_KEY_LENGTH,
    body_fingerprint,
    canonical_json,
    key_problem,
    request_fingerprint,
)

SHIP = "/v1/vendor/orders/vo_1/ship"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_a_retry_whose_json_differs_only_in_key_order_and_spacing_is_the_same_request() -> None:
    first = b'{"carrier": "ups", "tracking_number": "1Z9", "parcel": {"a": 1, "b": [1, 2]}}'
    retry = b'{"parcel":{"b":[1,2],"a":1},\n  "tracking_number":"1Z9","carrier":"ups"}'
    assert body_fingerprint(first) == body_fingerprint(retry)
    assert request_fingerprint("POST", SHIP, "", first) == request_fingerprint(
        "post", SHIP, "", retry
    )


def test_the_canonical_form_is_sorted_compact_ascii_json() -> None:
    assert canonical_json({"b": 1, "a": ["é", None, 1.5]}) == b'{"a":["\\u00e9",null,1.5],"b":1}'
    expected = "json:" + hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    assert body_fingerprint(b'{ "b" : 1, "a" : 2 }') == expected


def test_another_value_another_method_path_or_query_is_another_request() -> None:
    body = b'{"carrier":"ups","tracking_number":"1Z9"}'
    fingerprint = request_fingerprint("POST", SHIP, "", body)
    others = {
        request_fingerprint("POST", SHIP, "", b'{"carrier":"ups","tracking_number":"1Z8"}'),
        request_fingerprint("POST", SHIP, "", b'{"carrier":"ups","tracking_number":"1Z9","x":1}'),
        request_fingerprint("PUT", SHIP, "", body),
        request_fingerprint("POST", "/v1/vendor/orders/vo_2/ship", "", body),
        request_fingerprint("POST", SHIP, "dry_run=1", body),
    }
    assert fingerprint not in others
    assert len(others) == 5


def test_numbers_keep_their_json_type_one_and_one_point_zero_differ() -> None:
    assert body_fingerprint(b'{"delta": 1}') != body_fingerprint(b'{"delta": 1.0}')
    assert body_fingerprint(b'{"delta": 1e2}') == body_fingerprint(b'{"delta": 100.0}')


def test_a_body_that_is_not_json_is_compared_byte_for_byte() -> None:
    assert body_fingerprint(b"") == "raw:" + hashlib.sha256(b"").hexdigest()
    assert body_fingerprint(b"a=1&b=2") == "raw:" + hashlib.sha256(b"a=1&b=2").hexdigest()
    assert body_fingerprint(b"a=1&b=2") != body_fingerprint(b"b=2&a=1")
    # NaN is not JSON: no canonical form, so the bytes decide.
    assert body_fingerprint(b'{"x": NaN}').startswith("raw:")
    assert body_fingerprint(b"\xff\xfe{").startswith("raw:")


def test_a_path_holding_a_nul_cannot_be_confused_with_its_neighbour() -> None:
    assert request_fingerprint("POST", "/v1/a\0b", "c", b"") != request_fingerprint(
        "POST", "/v1/a", "b\0c", b""
    )


def test_deeply_nested_json_is_fingerprinted_without_failing() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert body_fingerprint(deep).startswith(("raw:", "json:"))


@given(json_values)
def test_any_json_value_reserialised_any_way_has_the_same_fingerprint(value: object) -> None:
    compact = json.dumps(value, separators=(",", ":")).encode()
    spaced = json.dumps(value, indent=3, ensure_ascii=False).encode()
    assert body_fingerprint(compact) == body_fingerprint(spaced)
    assert body_fingerprint(compact).startswith("json:")


def test_keys_up_to_255_printable_characters_are_accepted() -> None:
    assert key_problem("a" * MAX_KEY_LENGTH) is None
    assert key_problem("3f6c1e0a-7d7b-4e5e-9a61-0c1b2f3a4d5e") is None
    assert key_problem("ship order #42 (retry), café") is None


def test_an_empty_too_long_or_control_character_key_is_refused_with_a_reason() -> None:
    assert key_problem("") == "must not be empty"
    assert key_problem("a" * (MAX_KEY_LENGTH + 1)) == "must be at most 255 characters"
    for bad in ("a\tb", "a\0b", "a\x1bb", "a\x7fb", "line\nbreak"):
        assert key_problem(bad) == "must not contain control characters", bad
