"""A supplier's stock file sent as a feed through the API, followed to its end
(`fulfillment inventory feed FILE`, cli.py; the feed itself: docs/stock-feeds.md).

Through the public API with the vendor's key, as the supplier's own system would: the command
is a client like any other, so it works against production with nothing but the API's address
and a key. The feed's rows are counted as the workflow applies them; `progress(done, total)`
is told after each look.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# How the file's name says what it holds.
MEDIA_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}
LOOK_EVERY_SECONDS = 0.5
DONE = ("succeeded", "failed")


class FeedRefused(Exception):
    """The API refused the feed as a whole (its problem's code and detail)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.code = str(problem.get("code", "error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', problem.get('title', ''))}")


@dataclass(frozen=True)
class FeedOutcome:
    feed: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.feed["status"] == "succeeded"

    def summary(self) -> str:
        f = self.feed
        took = f.get("duration_seconds")
        return (
            f"feed {f['id']} {f['status']}: {f['rows_total']} rows, {f['rows_applied']} applied, "
            f"{f['rows_unchanged']} unchanged, {f['rows_refused']} refused"
            + (f" in {took:.1f}s" if isinstance(took, int | float) else "")
        )


def media_type_of(path: Path) -> str:
    found = MEDIA_TYPES.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"{path.name}: name it .csv, .jsonl or .ndjson to say what it holds")
    return found


def rows_done(feed: dict[str, Any]) -> int:
    return int(feed["rows_applied"]) + int(feed["rows_unchanged"]) + int(feed["rows_refused"])


async def send_feed(
    api: httpx.AsyncClient,
    path: Path,
    as_of: str,
    progress: Callable[[int, int], None] | None = None,
    within: float = 3600,
) -> FeedOutcome:
    """POST the file as a feed, then follow it until it succeeded or failed."""
    media_type = media_type_of(path)
    # Read off the event loop: a feed file is up to 32 MiB.
    body = await asyncio.to_thread(path.read_bytes)
    sent = await api.post(
        "/v1/inventory/feeds",
        params={"as_of": as_of},
        content=body,
        headers={"Content-Type": media_type},
    )
    if sent.status_code != 202:
        raise FeedRefused(sent.status_code, _problem(sent))
    feed: dict[str, Any] = sent.json()
    location = sent.headers.get("location") or f"/v1/inventory/feeds/{feed['id']}"
    deadline = asyncio.get_running_loop().time() + within
    while feed["status"] not in DONE:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"feed {feed['id']} still {feed['status']} after {within:.0f}s")
        await asyncio.sleep(LOOK_EVERY_SECONDS)
        looked = await api.get(location)
        if looked.status_code != 200:
            raise FeedRefused(looked.status_code, _problem(looked))
        feed = looked.json()
        if progress is not None and feed.get("rows_total"):
            progress(rows_done(feed), int(feed["rows_total"]))
    return FeedOutcome(feed)


def _problem(answer: httpx.Response) -> dict[str, Any]:
    try:
        found = answer.json()
    except ValueError:
        return {"detail": answer.text[:200]}
    return found if isinstance(found, dict) else {"detail": str(found)[:200]}
