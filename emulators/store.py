"""What both emulators' stores share: objects by kind, each kind a journal table
(emulators/journal.py), kept in a state file when one is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulators.journal import Journal


class JournaledStore:
    """Objects by kind and key. A subclass names the rest of its state in ``dump`` (the state
    file's layout) and builds its tables from that layout in ``_hold``."""

    objects: dict[str, dict[str, dict[str, Any]]]

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._journal = Journal(path, self.dump)

    def dump(self) -> dict[str, Any]:
        raise NotImplementedError

    def _hold_objects(self, kept: dict[str, Any]) -> None:
        """Hold the objects of ``kept`` in tables, so that the journal learns which records
        each change touches."""
        self.objects = {
            kind: self._journal.table(("objects", kind), records)
            for kind, records in kept.get("objects", {}).items()
        }

    def _kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """The table of one kind, made when its first object arrives."""
        table = self.objects.get(kind)
        if table is None:
            table = self.objects[kind] = self._journal.table(("objects", kind))
        return table

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        table = self.objects.get(kind)
        return None if table is None else table.get(key)

    def save(self) -> None:
        """Keep what changed since the last save (a line appended to the journal)."""
        self._journal.save()

    def close(self) -> None:
        """Keep everything in the state file alone, as a stop should leave it."""
        self._journal.close()
