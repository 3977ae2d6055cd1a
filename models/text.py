"""Text that PostgreSQL can store, checked at the edge.

PostgreSQL `text` and `varchar` cannot hold the NUL character, and UTF-8 cannot encode a lone
surrogate: either one, passed to the database, fails the statement with a DataError (a 500 in
the API, an activity retried for ever in a saga). Every string a client sends is checked
here first, so such input is a 422 that names the field and nothing is written.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def unstorable(value: str) -> str | None:
    """Why PostgreSQL cannot store this text (None: it can)."""
    if "\x00" in value:
        return "must not contain the NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired surrogates (U+D800 to U+DFFF)"
    return None


def _storable(value: str) -> str:
    reason = unstorable(value)
    if reason is not None:
        raise ValueError(reason)
    return value


# Use for every string field of a request body (with Field(...) bounds beside it).
StorableText = Annotated[str, AfterValidator(_storable)]
