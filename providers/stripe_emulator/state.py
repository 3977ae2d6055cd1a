"""The emulator's memory: Stripe objects by kind, idempotent answers, and the state file that
keeps them (providers/emulator_journal.py)."""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.emulator_journal import Journal

from . import params as p
from .errors import invalid_request

StripeObject = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits


class Store:
    """All objects the emulator holds, kept in creation order so lists can run newest first."""

    objects: dict[str, dict[str, StripeObject]]
    # Idempotent answers by scope (see idempotency_scope).
    idempotency: dict[str, dict[str, Any]]
    # Webhook deliveries by event id, in event order, so a restart resumes the queue.
    deliveries: dict[str, dict[str, Any]]
    # What Stripe keeps about a connected account but never shows on the Account object.
    account_state: dict[str, dict[str, Any]]

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        # The request being handled, which events name as their cause; not persisted.
        self.request: dict[str, str | None] = {"id": None, "idempotency_key": None}
        # Events created since the last commit, for the webhook queue; not persisted.
        self.fresh_events: list[str] = []
        self._journal = Journal(path, self.dump)
        self._journal.open(self._hold)

    def _hold(self, kept: dict[str, Any]) -> None:
        """Hold ``kept`` (the state file's layout) in tables, so that the journal learns which
        records each change touches."""
        table = self._journal.table
        self.objects = {
            kind: table(("objects", kind), records)
            for kind, records in kept.get("objects", {}).items()
        }
        self.idempotency = table(("idempotency",), kept.get("idempotency"))
        self.deliveries = table(("deliveries",), kept.get("deliveries"))
        self.account_state = table(("account_state",), kept.get("account_state"))

    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"

    @staticmethod
    def now() -> int:
        return int(time.time())

    def add(self, kind: str, obj: StripeObject) -> StripeObject:
        table = self.objects.get(kind)
        if table is None:
            table = self.objects[kind] = self._journal.table(("objects", kind))
        table[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str) -> StripeObject | None:
        table = self.objects.get(kind)
        return None if table is None else table.get(object_id)

    def newest_first(self, kind: str) -> list[StripeObject]:
        return list(reversed(self.objects.get(kind, {}).values()))

    def list_page(
        self,
        kind: str,
        params: p.Params,
        url: str,
        keep: Callable[[StripeObject], bool] = lambda _: True,
    ) -> StripeObject:
        """One page of a Stripe list: newest first, cut by limit, starting_after, ending_before."""
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
        items = [
            obj
            for obj in self.newest_first(kind)
            if keep(obj)
            and (low is None or obj["created"] >= low)
            and (high is None or obj["created"] <= high)
        ]
        after = p.string(params, "starting_after")
        before = p.string(params, "ending_before")
        if after is not None:
            items = self._split(kind, items, after, "starting_after")[1]
            page = items[:limit]
        elif before is not None:
            items = self._split(kind, items, before, "ending_before")[0]
            page = items[-limit:]
        else:
            page = items[:limit]
        return {"object": "list", "data": page, "has_more": len(items) > len(page), "url": url}

    def _split(
        self, kind: str, items: list[StripeObject], cursor: str, param: str
    ) -> tuple[list[StripeObject], list[StripeObject]]:
        """The listed items newer and older than the cursor, which need not pass the filters."""
        order = {obj_id: rank for rank, obj_id in enumerate(reversed(self.objects.get(kind, {})))}
        if cursor not in order:
            raise invalid_request(
                f"No such {kind}: '{cursor}'", code="resource_missing", param=param
            )
        newer = [obj for obj in items if order[obj["id"]] < order[cursor]]
        older = [obj for obj in items if order[obj["id"]] > order[cursor]]
        return newer, older

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

    def save(self) -> None:
        """Keep what changed since the last save (a line appended to the journal)."""
        self._journal.save()

    def close(self) -> None:
        """Keep everything in the state file alone, as a stop should leave it."""
        self._journal.close()
