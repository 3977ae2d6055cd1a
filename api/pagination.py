"""Cursor pagination for the API's lists (issue 13): `?limit=` (default 50, at most 200) and
`?starting_after=<cursor>`; every list answers `{data, has_more, next_cursor}`, Stripe's
shape. The cursor itself is domain/pagination.py; a malformed one is a 422 problem.

A list adopts it in three steps: a KeyShape naming the list and its key, a query ordered by
that key and filtered to keys after `after(params, SHAPE)`, fetching `params.fetch` rows, and
`page(rows, params, SHAPE, key_of)` for the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from domain.pagination import (
    DEFAULT_LIMIT,
    MAX_CURSOR_CHARS,
    MAX_LIMIT,
    Key,
    KeyShape,
    decode_cursor,
    page_of,
)

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    # Send it back as `starting_after` for the next page; null on the last page.
    next_cursor: str | None


@dataclass(frozen=True)
class PageParams:
    limit: int
    starting_after: str | None

    @property
    def fetch(self) -> int:
        """Rows to ask for: one more than the page, which only says whether there is more."""
        return self.limit + 1


async def _page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")
    ] = DEFAULT_LIMIT,
    starting_after: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_CHARS,
            description="the `next_cursor` of the page before; absent for the first page",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit, starting_after)


PageParamsDep = Annotated[PageParams, Depends(_page_params)]


def after(params: PageParams, shape: KeyShape) -> Key | None:
    """The key the page starts after, or None for the first page (CursorInvalid: a 422)."""
    if params.starting_after is None:
        return None
    return decode_cursor(shape, params.starting_after)


def page(
    rows: Sequence[R],
    params: PageParams,
    shape: KeyShape,
    key_of: Callable[[R], Key],
    view: Callable[[R], T],
) -> Page[T]:
    found = page_of(rows, params.limit, shape, key_of)
    return Page(
        data=[view(row) for row in found.items],
        has_more=found.has_more,
        next_cursor=found.next_cursor,
    )
