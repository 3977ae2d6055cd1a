"""Reading the API's paginated lists (docs/listings.md): `{data, has_more, next_cursor}`,
walked with `?starting_after=`."""

from __future__ import annotations

from typing import Any

import httpx


async def first_page(
    api: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """The first page's items (the list's default limit unless `limit` is given)."""
    answer = await api.get(url, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert set(page) == {"data", "has_more", "next_cursor"}, page
    return list(page["data"])


async def every_item(
    api: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    *,
    key: str = "id",
    **params: Any,
) -> list[dict[str, Any]]:
    """Every item of the list, page after page, each checked to be seen once."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "starting_after": cursor}
        answer = await api.get(url, headers=headers, params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["data"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        assert page["next_cursor"], page
        cursor = page["next_cursor"]
    keys = [item[key] for item in items]
    assert len(keys) == len(set(keys)), "an item was seen twice"
    return items
