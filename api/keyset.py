"""Keyset pagination by time (issue 13, "cursor pagination on every list"): lists walked
newest or oldest first are ordered by (a timestamp, the row's id), a unique key, so a row
added between two pages never makes another appear twice or go missing.

The cursor's key holds the timestamp as ISO 8601 text (microseconds, with its offset: what
PostgreSQL stores, so it compares equal to the row it came from) and the id; anything else in
its place is a 422 (CursorInvalid), as for every other cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, tuple_

from api.pagination import PageParams, after
from domain.pagination import CursorInvalid, Key, KeyShape


def time_key(at: datetime, row_id: str) -> Key:
    return (at.isoformat(), row_id)


def time_after(params: PageParams, shape: KeyShape) -> tuple[datetime, str] | None:
    """The (time, id) the page starts after, or None for the first page."""
    start = after(params, shape)
    if start is None:
        return None
    try:
        at = datetime.fromisoformat(str(start[0]))
    except ValueError:
        raise CursorInvalid("its key has the wrong shape") from None
    if at.tzinfo is None:
        raise CursorInvalid("its key has the wrong shape")
    return at, str(start[1])


def beyond(
    at_column: Any, id_column: Any, start: tuple[datetime, str], *, newest_first: bool
) -> ColumnElement[bool]:
    """Rows strictly after `start` in the list's order ((time, id) both descending, or both
    ascending: one row comparison, which PostgreSQL answers from a (time, id) index)."""
    rows, key = tuple_(at_column, id_column), tuple_(*start)
    return rows < key if newest_first else rows > key


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def in_time_order(
    query: Q,
    at_column: Any,
    id_column: Any,
    params: PageParams,
    shape: KeyShape,
    *,
    newest_first: bool,
) -> Q:
    """`query` as one page of a list walked by (time, id): from after the page's cursor, in
    that order, a page and one row more (how `page` tells there is more)."""
    start = time_after(params, shape)
    if start is not None:
        query = query.where(beyond(at_column, id_column, start, newest_first=newest_first))
    order = (at_column.desc(), id_column.desc()) if newest_first else (at_column, id_column)
    return query.order_by(*order).limit(params.fetch)
