"""The emulator's memory: Shippo objects by kind, webhook deliveries, timed jobs, and the state
file that keeps them (emulators/journal.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from emulators.store import JournaledStore

from .errors import invalid

ShippoObject = dict[str, Any]
OWNER = "emulator@shippo.test"
MAX_PAGE_SIZE = 1000
# The fields a kind is listed or counted by, besides its key. Set when an object is made and
# never changed after, so an object is indexed once, when it is added.
BY_FIELD: dict[str, tuple[str, ...]] = {"transaction": ("rate", "metadata")}


def new_id() -> str:
    """Shippo's object ids are 32 hex digits."""
    return uuid.uuid4().hex


def iso(moment: float | None = None) -> str:
    """A time as Shippo writes it: UTC, milliseconds, a trailing Z."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def track_key(carrier: str, tracking_number: str) -> str:
    return f"{carrier}/{tracking_number}"


class Store(JournaledStore):
    """Every object the emulator holds, in creation order so that lists can run newest first,
    with indexes so that no request reads more than the objects it is about: each kind's keys
    in creation order, transactions by rate and by metadata, deliveries by parcel. They are
    not persisted but rebuilt whenever the state is loaded: the tables keep creation order
    (a dict keeps the order a key first arrived in, and so does the journal's replay)."""

    # Kinds: shipment, rate, transaction, track (keyed "carrier/tracking_number").
    objects: dict[str, dict[str, ShippoObject]]
    # Webhook deliveries by id, in the order they were made, so a restart resumes them.
    deliveries: dict[str, dict[str, Any]]
    # Changes Shippo makes by itself later (a parcel moving, a queued label finishing):
    # {"id", "at" (epoch seconds), "kind", ...}. Kept, so a restart carries them out.
    jobs: list[dict[str, Any]]

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        # Replaced whole by its users, and only as long as the moves still to come, so the
        # journal compares it whole at each save.
        self._journal.watch(("jobs",), lambda: self.jobs)
        self._journal.open(self._hold)

    def _hold(self, kept: dict[str, Any]) -> None:
        """Hold ``kept`` (the state file's layout) in tables, and index it."""
        self._hold_objects(kept)
        self.deliveries = self._journal.table(("deliveries",), kept.get("deliveries"))
        self.jobs = kept.get("jobs", [])
        # Keys by kind, oldest first; (kind, field) -> value -> keys, oldest first.
        self._order: dict[str, list[str]] = {}
        self._by: dict[tuple[str, str], dict[str, list[str]]] = {}
        # (carrier, tracking_number) -> delivery ids, oldest first.
        self._by_parcel: dict[tuple[Any, Any], list[str]] = {}
        for kind, objects in self.objects.items():
            for key, obj in dict.items(objects):
                self._index(kind, key, obj)
        for delivery_id, delivery in dict.items(self.deliveries):
            self.index_delivery(delivery_id, delivery)

    def add(self, kind: str, key: str, obj: ShippoObject) -> ShippoObject:
        table = self._kind(kind)
        new = key not in table
        table[key] = obj
        if new:
            self._index(kind, key, obj)
        return obj

    def _index(self, kind: str, key: str, obj: ShippoObject) -> None:
        self._order.setdefault(kind, []).append(key)
        for field in BY_FIELD.get(kind, ()):
            value = obj.get(field)
            if isinstance(value, str):
                self._by.setdefault((kind, field), {}).setdefault(value, []).append(key)

    def newest(self, kind: str, where: Mapping[str, str] | None = None) -> Iterator[ShippoObject]:
        """The objects of a kind whose fields hold the values ``where`` gives, newest first,
        read lazily from an index when one of the fields has one. To read, not to change:
        the journal hears only of records looked up by key."""
        wanted = dict(where or {})
        lists = [
            self._by.get((kind, field), {}).get(value, [])
            for field, value in wanted.items()
            if field in BY_FIELD.get(kind, ())
        ]
        keys = min(lists, key=len) if lists else self._order.get(kind, [])
        table = self.objects.get(kind, {})
        for key in reversed(keys):
            obj = dict.get(table, key)
            if obj is not None and all(obj.get(f) == v for f, v in wanted.items()):
                yield obj

    def index_delivery(self, delivery_id: str, delivery: dict[str, Any]) -> None:
        """Called for each new delivery (the webhook queue adds them to ``deliveries``)."""
        parcel = (delivery.get("carrier"), delivery.get("tracking_number"))
        self._by_parcel.setdefault(parcel, []).append(delivery_id)

    def deliveries_about(self, carrier: str, tracking_number: str) -> list[dict[str, Any]]:
        """One parcel's deliveries, oldest first, read without telling the journal."""
        ids = self._by_parcel.get((carrier, tracking_number), [])
        return [d for d in (dict.get(self.deliveries, i) for i in ids) if d is not None]

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


def page_of(items: Iterable[ShippoObject], query: dict[str, str], url: str) -> dict[str, Any]:
    """One page of a Shippo list: ``page`` counts from 1, ``results`` is the page size, and
    ``next``/``previous`` are full URLs or null. ``items`` is read only up to this page and
    one more, enough to know whether a next page exists."""
    number = _positive(query, "page", 1)
    size = min(_positive(query, "results", 25), MAX_PAGE_SIZE)
    start = (number - 1) * size
    seen = list(islice(items, start + size + 1))
    chosen = seen[start : start + size]

    def link(to: int) -> str:
        return f"{url}?{urlencode({**query, 'page': to, 'results': size})}"

    return {
        "next": link(number + 1) if start + size < len(seen) else None,
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
