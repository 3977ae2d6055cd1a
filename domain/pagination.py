"""Opaque cursors for keyset pagination (issue 13: cursor pagination on every list).

A list is walked in a fixed order of unique keys (a product's sku; a stock level's sku and
warehouse; a refusal's line). The cursor names the last key a page answered and the list it
belongs to, so the next page starts strictly after it: a row added or removed between two
pages never makes another row appear twice or go missing, as offsets would.

The cursor is base64url of compact JSON, `{"v": 1, "l": <list>, "k": [<key values>]}`. It is
opaque to clients (they only send back what they were given) and not secret: it holds only
keys of rows the caller was shown. Anything that does not decode to a cursor of this list,
with keys of the expected types, is refused with CursorInvalid (a 422).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import ValidationFailed

VERSION = 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Far more than any cursor of ours: a longer one is refused before it is decoded.
MAX_CURSOR_CHARS = 1000

Key = tuple[str | int, ...]
T = TypeVar("T")


class CursorInvalid(ValidationFailed):
    """A `starting_after` that is not a cursor this list gave out."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"starting_after is not a cursor of this list: {why}",
            field="starting_after",
            errors=[{"loc": ["query", "starting_after"], "msg": why, "type": "value_error"}],
        )


@dataclass(frozen=True)
class KeyShape:
    """The list a cursor belongs to and the types of its key, in order (str or int)."""

    name: str
    types: tuple[type, ...]


def encode_cursor(shape: KeyShape, key: Key) -> str:
    if len(key) != len(shape.types) or any(
        type(value) is not kind for value, kind in zip(key, shape.types, strict=True)
    ):
        raise ValueError(f"a key of {shape.name} is {shape.types}, not {key!r}")
    document = json.dumps({"v": VERSION, "l": shape.name, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(shape: KeyShape, cursor: str) -> Key:
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise CursorInvalid("empty or too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorInvalid("it does not decode") from None
    if not isinstance(document, dict) or document.get("v") != VERSION:
        raise CursorInvalid("unknown cursor version")
    if document.get("l") != shape.name:
        raise CursorInvalid("it belongs to another list")
    key = document.get("k")
    if not isinstance(key, list) or len(key) != len(shape.types):
        raise CursorInvalid("its key has the wrong shape")
    for value, kind in zip(key, shape.types, strict=True):
        # bool is an int to Python, never to us.
        if type(value) is not kind or (isinstance(value, str) and _unstorable(value)):
            raise CursorInvalid("its key has the wrong shape")
    return tuple(key)


def _unstorable(value: str) -> bool:
    # A key PostgreSQL could not compare with (a NUL, a lone surrogate) matches no row anyway.
    return "\x00" in value or any(0xD800 <= ord(char) <= 0xDFFF for char in value)


@dataclass(frozen=True)
class PageOf(Generic[T]):
    items: list[T]
    has_more: bool
    next_cursor: str | None


def page_of(
    rows: Sequence[T], limit: int, shape: KeyShape, key_of: Callable[[T], Key]
) -> PageOf[T]:
    """The page from `limit + 1` rows fetched in key order: the extra row only says there is
    more, and the cursor names the last row answered."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return PageOf(items, False, None)
    return PageOf(items, True, encode_cursor(shape, key_of(items[-1])))
