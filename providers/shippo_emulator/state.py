"""The emulator's memory: Shippo objects by kind, webhook deliveries, timed jobs, and the state
file that keeps them (providers/emulator_journal.py)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from providers.emulator_journal import Journal

from .errors import invalid

ShippoObject = dict[str, Any]
OWNER = "emulator@shippo.test"
MAX_PAGE_SIZE = 1000


def new_id() -> str:
    """Shippo's object ids are 32 hex digits."""
    return uuid.uuid4().hex


def iso(moment: float | None = None) -> str:
    """A time as Shippo writes it: UTC, milliseconds, a trailing Z."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def track_key(carrier: str, tracking_number: str) -> str:
    return f"{carrier}/{tracking_number}"


class Store:
    """Every object the emulator holds, in creation order so that lists can run newest first."""

    # Kinds: shipment, rate, transaction, track (keyed "carrier/tracking_number").
    objects: dict[str, dict[str, ShippoObject]]
    # Webhook deliveries by id, in the order they were made, so a restart resumes them.
    deliveries: dict[str, dict[str, Any]]
    # Changes Shippo makes by itself later (a parcel moving, a queued label finishing):
    # {"id", "at" (epoch seconds), "kind", ...}. Kept, so a restart carries them out.
    jobs: list[dict[str, Any]]

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._journal = Journal(path, self.dump)
        # Replaced whole by its users, and only as long as the moves still to come, so the
        # journal compares it whole at each save.
        self._journal.watch(("jobs",), lambda: self.jobs)
        self._journal.open(self._hold)

    def _hold(self, kept: dict[str, Any]) -> None:
        """Hold ``kept`` (the state file's layout) in tables, so that the journal learns which
        records each change touches."""
        table = self._journal.table
        self.objects = {
            kind: table(("objects", kind), records)
            for kind, records in kept.get("objects", {}).items()
        }
        self.deliveries = table(("deliveries",), kept.get("deliveries"))
        self.jobs = kept.get("jobs", [])

    def add(self, kind: str, key: str, obj: ShippoObject) -> ShippoObject:
        table = self.objects.get(kind)
        if table is None:
            table = self.objects[kind] = self._journal.table(("objects", kind))
        table[key] = obj
        return obj

    def get(self, kind: str, key: str) -> ShippoObject | None:
        table = self.objects.get(kind)
        return None if table is None else table.get(key)

    def newest_first(self, kind: str) -> list[ShippoObject]:
        return list(reversed(self.objects.get(kind, {}).values()))

    def schedule(self, at: float, kind: str, **fields: Any) -> None:
        self.jobs.append({"id": new_id(), "at": at, "kind": kind, **fields})
        self.jobs.sort(key=lambda job: job["at"])

    def take_due_jobs(self, now: float) -> list[dict[str, Any]]:
        due = [job for job in self.jobs if job["at"] <= now]
        self.jobs = [job for job in self.jobs if job["at"] > now]
        return due

    def next_job_at(self) -> float | None:
        return self.jobs[0]["at"] if self.jobs else None

    def reset(self) -> None:
        self._hold({})
        self._journal.start_over()

    def dump(self) -> dict[str, Any]:
        return {"objects": self.objects, "deliveries": self.deliveries, "jobs": self.jobs}

    def save(self) -> None:
        """Keep what changed since the last save (a line appended to the journal)."""
        self._journal.save()

    def close(self) -> None:
        """Keep everything in the state file alone, as a stop should leave it."""
        self._journal.close()


def page_of(items: list[ShippoObject], query: dict[str, str], url: str) -> dict[str, Any]:
    """One page of a Shippo list: ``page`` counts from 1, ``results`` is the page size, and
    ``next``/``previous`` are full URLs or null."""
    number = _positive(query, "page", 1)
    size = min(_positive(query, "results", 25), MAX_PAGE_SIZE)
    start = (number - 1) * size
    chosen = items[start : start + size]

    def link(to: int) -> str:
        return f"{url}?{urlencode({**query, 'page': to, 'results': size})}"

    return {
        "next": link(number + 1) if start + size < len(items) else None,
        "previous": link(number - 1) if number > 1 else None,
        "results": chosen,
    }


def _positive(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "A valid integer is required.") from None
    if value < 1:
        raise invalid(name, "Ensure this value is greater than or equal to 1.")
    return value
