"""Cursors walk a list by its keys: one list's cursor is refused by another, and anything that
is not a cursor this list gave out is a validation error, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from domain.errors import ErrorCode
from domain.pagination import CursorInvalid, KeyShape, decode_cursor, encode_cursor, page_of

LEVELS = KeyShape("levels", (str, str))
LINES = KeyShape("lines", (int,))


def test_a_cursor_gives_back_the_key_it_was_made_from() -> None:
    cursor = encode_cursor(LEVELS, ("SKU-1", "wh_2"))
    assert decode_cursor(LEVELS, cursor) == ("SKU-1", "wh_2")
    assert decode_cursor(LINES, encode_cursor(LINES, (41,))) == (41,)


def _raw(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        _raw([1, 2]),
        _raw({"v": 2, "l": "levels", "k": ["a", "b"]}),
        _raw({"v": 1, "l": "lines", "k": [1]}),  # another list's
        _raw({"v": 1, "l": "levels", "k": ["a"]}),
        _raw({"v": 1, "l": "levels", "k": ["a", 3]}),
        _raw({"v": 1, "l": "levels", "k": ["a\u0000", "b"]}),
        "A" * 2000,
    ],
)
def test_anything_but_a_cursor_of_this_list_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(CursorInvalid) as refused:
        decode_cursor(LEVELS, cursor)
    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert refused.value.extra["field"] == "starting_after"


def test_a_boolean_is_not_taken_for_an_integer_key() -> None:
    with pytest.raises(CursorInvalid):
        decode_cursor(LINES, _raw({"v": 1, "l": "lines", "k": [True]}))


def test_a_page_says_whether_more_follow_and_names_its_last_row() -> None:
    rows = [1, 2, 3, 4]
    first = page_of(rows, 3, LINES, lambda n: (n,))
    assert (first.items, first.has_more) == ([1, 2, 3], True)
    assert first.next_cursor is not None
    assert decode_cursor(LINES, first.next_cursor) == (3,)
    last = page_of(rows[3:], 3, LINES, lambda n: (n,))
    assert (last.items, last.has_more, last.next_cursor) == ([4], False, None)
