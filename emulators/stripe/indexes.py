"""Where the store finds objects without looking at the others: each kind's ids in creation
order, and the ids of each parent (a charge's refunds, a transfer's reversals...).

A request then costs what its own charge, transfer or page holds, never what the emulator has
seen. Nothing here is persisted: the tables are, in creation order (a dict keeps the order a
key first arrived in, and so does the journal's replay), so the store rebuilds these whenever
it loads its state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping
from typing import Any

# The fields each kind is looked up or listed by, besides its id. The emulator never changes
# them once an object exists (Stripe does not let an update change them either), so an object
# is indexed when it is added; replacing it whole (Store.add again) moves it.
BY_FIELD: dict[str, tuple[str, ...]] = {
    "payment_intent": ("customer",),
    "charge": ("customer", "payment_intent", "transfer_group"),
    "refund": ("charge", "payment_intent"),
    "transfer": ("destination", "source_transaction", "transfer_group"),
    "transfer_reversal": ("transfer",),
    "dispute": ("charge", "payment_intent"),
    "event": ("type",),
}
_NONE: list[str] = []


class Indexes:
    def __init__(self) -> None:
        # Ids by kind, oldest first, and each id's place in that list.
        self._order: dict[str, list[str]] = {}
        self._rank: dict[str, dict[str, int]] = {}
        # (kind, field) -> value -> ids with that value, oldest first.
        self._by: dict[tuple[str, str], dict[str, list[str]]] = {}

    def add(self, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> None:
        """Index ``obj``, new or replacing ``old`` (which keeps its place, as in a dict)."""
        obj_id = str(obj["id"])
        rank = self._rank.setdefault(kind, {})
        if obj_id not in rank:
            order = self._order.setdefault(kind, [])
            rank[obj_id] = len(order)
            order.append(obj_id)
        for field in BY_FIELD.get(kind, ()):
            before = None if old is None else old.get(field)
            after = obj.get(field)
            if before == after and old is not None:
                continue
            by_value = self._by.setdefault((kind, field), {})
            if isinstance(before, str):
                by_value[before].remove(obj_id)
            if isinstance(after, str):
                ids = by_value.setdefault(after, [])
                # Its place by age: last for a new object, where it was for a replaced one.
                ids.insert(bisect_left(ids, rank[obj_id], key=rank.__getitem__), obj_id)

    def knows(self, kind: str, obj_id: str) -> bool:
        return obj_id in self._rank.get(kind, {})

    def ids(self, kind: str, wanted: Mapping[str, str]) -> list[str]:
        """Ids oldest first, among them all those with the wanted values: the shortest list
        an index gives for one of them, or every id of the kind when none is indexed."""
        lists = [
            self._by.get((kind, field), {}).get(value, _NONE)
            for field, value in wanted.items()
            if field in BY_FIELD.get(kind, ())
        ]
        if lists:
            return min(lists, key=len)
        return self._order.get(kind, _NONE)

    def walk(
        self,
        kind: str,
        ids: list[str],
        *,
        older_than: str | None = None,
        newer_than: str | None = None,
    ) -> Iterator[str]:
        """``ids`` (a list from ``ids``) newest first, or only those older than a known id; or
        those newer than one, nearest it first (oldest first)."""
        rank = self._rank.get(kind, {})
        if older_than is not None:
            stop = bisect_left(ids, rank[older_than], key=rank.__getitem__)
            return (ids[i] for i in range(stop - 1, -1, -1))
        if newer_than is not None:
            start = bisect_right(ids, rank[newer_than], key=rank.__getitem__)
            return (ids[i] for i in range(start, len(ids)))
        return reversed(ids)
