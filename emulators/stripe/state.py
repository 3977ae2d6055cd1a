"""The emulator's memory: Stripe objects by kind, idempotent answers, and the state file that
keeps them (emulators/journal.py)."""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any

from emulators.store import JournaledStore

from . import params as p
from .errors import invalid_request, no_such
from .indexes import Indexes

StripeObject = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits


class Store(JournaledStore):
    """All objects the emulator holds, kept in creation order so lists can run newest first,
    and indexed (indexes.py) so that no request reads more than the objects it is about."""

    objects: dict[str, dict[str, StripeObject]]
    # Idempotent answers by scope (see idempotency_scope).
    idempotency: dict[str, dict[str, Any]]
    # Webhook deliveries by event id, in event order, so a restart resumes the queue.
    deliveries: dict[str, dict[str, Any]]
    # What Stripe keeps about a connected account but never shows on the Account object.
    account_state: dict[str, dict[str, Any]]

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path)
        # The request being handled, which events name as their cause; not persisted.
        self.request: dict[str, str | None] = {"id": None, "idempotency_key": None}
        # Events created since the last commit, for the webhook queue; not persisted.
        self.fresh_events: list[str] = []
        self._journal.open(self._hold)

    def _hold(self, kept: dict[str, Any]) -> None:
        """Hold ``kept`` (the state file's layout) in tables, and index it."""
        self._hold_objects(kept)
        table = self._journal.table
        self.idempotency = table(("idempotency",), kept.get("idempotency"))
        self.deliveries = table(("deliveries",), kept.get("deliveries"))
        self.account_state = table(("account_state",), kept.get("account_state"))
        # Rebuilt from the tables: what was kept (the snapshot and journal replayed) is in
        # creation order, so each object takes back the place it had.
        self._indexes = Indexes()
        for kind, objects in self.objects.items():
            for obj in dict.values(objects):
                self._indexes.add(kind, obj, None)

    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"

    @staticmethod
    def now() -> int:
        return int(time.time())

    def get_or_404(self, kind: str, object_id: str, param: str = "id") -> StripeObject:
        """The object a request's path names, or Stripe's 404 (code resource_missing)."""
        obj = self.get(kind, object_id)
        if obj is None:
            raise no_such(kind, object_id, param=param, status=404)
        return obj

    def add(self, kind: str, obj: StripeObject) -> StripeObject:
        table = self._kind(kind)
        old = dict.get(table, obj["id"])
        table[obj["id"]] = obj
        self._indexes.add(kind, obj, old)
        return obj

    def newest_with(self, kind: str, field: str, value: str) -> list[StripeObject]:
        """The objects of one parent (a charge's refunds, say), newest first, read from the
        index: to read, not to change (the journal hears only of records looked up by id)."""
        ids = self._indexes.ids(kind, {field: value})
        return list(self._read(kind, self._indexes.walk(kind, ids)))

    def list_page(
        self,
        kind: str,
        params: p.Params,
        url: str,
        where: Mapping[str, str | None] | None = None,
        keep: Callable[[StripeObject], bool] = lambda _: True,
    ) -> StripeObject:
        """One page of a Stripe list: newest first, cut by limit, starting_after, ending_before.
        ``where`` holds the field filters (None: not filtered), ``keep`` any other test.

        Read from an index when a filter has one, and only until the page and one more object
        are found, so a page costs what it shows (plus what the filters pass over), not what
        the emulator holds."""
        limit = p.integer(params, "limit")
        if limit is None:
            limit = 10
        if not 1 <= limit <= 100:
            raise invalid_request(
                "Invalid limit: must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        low, high = p.created_range(params)
        wanted = {field: value for field, value in (where or {}).items() if value is not None}

        def listed(obj: StripeObject) -> bool:
            return (
                all(obj.get(field) == value for field, value in wanted.items())
                and keep(obj)
                and (low is None or obj["created"] >= low)
                and (high is None or obj["created"] <= high)
            )

        ids = self._indexes.ids(kind, wanted)
        after = p.string(params, "starting_after")
        before = p.string(params, "ending_before")
        if after is not None:
            before = None  # starting_after wins, as it always has here
        # The cursor need not pass the filters, but must be an object of this kind.
        for cursor, param in ((after, "starting_after"), (before, "ending_before")):
            if cursor is not None and not self._indexes.knows(kind, cursor):
                raise invalid_request(
                    f"No such {kind}: '{cursor}'", code="resource_missing", param=param
                )
        walk = self._indexes.walk(kind, ids, older_than=after, newer_than=before)
        found = list(islice(filter(listed, self._read(kind, walk)), limit + 1))
        page = found[:limit]
        if before is not None:
            # Walked from the cursor towards the newest: the page shows them newest first.
            page.reverse()
        return {"object": "list", "data": page, "has_more": len(found) > limit, "url": url}

    def _read(self, kind: str, ids: Iterable[str]) -> Iterator[StripeObject]:
        """The objects of these ids, read without telling the journal (see newest_with)."""
        table = self.objects.get(kind, {})
        for obj_id in ids:
            obj = dict.get(table, obj_id)
            if obj is not None:
                yield obj

    @staticmethod
    def idempotency_scope(api_key: str, method: str, path: str, key: str) -> str:
        # Only a digest of the API key is kept, so the state file holds no secret.
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        return f"{digest} {method} {path} {key}"

    def take_fresh_events(self) -> list[str]:
        fresh, self.fresh_events = self.fresh_events, []
        return fresh

    def reset(self) -> None:
        self._hold({})
        self.fresh_events = []
        self._journal.start_over()

    def dump(self) -> dict[str, Any]:
        return {
            "objects": self.objects,
            "idempotency": self.idempotency,
            "deliveries": self.deliveries,
            "account_state": self.account_state,
        }
