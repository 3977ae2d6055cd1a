"""The emulator's memory: Shippo objects by kind, webhook deliveries, timed jobs, one JSON file."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from providers.atomic_file import write_json

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

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        # Kinds: shipment, rate, transaction, track (keyed "carrier/tracking_number").
        self.objects: dict[str, dict[str, ShippoObject]] = {}
        # Webhook deliveries by id, in the order they were made, so a restart resumes them.
        self.deliveries: dict[str, dict[str, Any]] = {}
        # Changes Shippo makes by itself later (a parcel moving, a queued label finishing):
        # {"id", "at" (epoch seconds), "kind", ...}. Kept, so a restart carries them out.
        self.jobs: list[dict[str, Any]] = []
        if path is not None and path.exists():
            self._load(path)

    def add(self, kind: str, key: str, obj: ShippoObject) -> ShippoObject:
        self.objects.setdefault(kind, {})[key] = obj
        return obj

    def get(self, kind: str, key: str) -> ShippoObject | None:
        return self.objects.get(kind, {}).get(key)

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
        self.objects, self.deliveries, self.jobs = {}, {}, []
        self.save()

    def dump(self) -> dict[str, Any]:
        return {"objects": self.objects, "deliveries": self.deliveries, "jobs": self.jobs}

    def save(self) -> None:
        if self.path is not None:
            write_json(self.path, self.dump())

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.objects = data.get("objects", {})
        self.deliveries = data.get("deliveries", {})
        self.jobs = data.get("jobs", [])


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
