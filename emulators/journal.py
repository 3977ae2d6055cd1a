"""How both emulators keep their state: a snapshot and an append-only journal beside it, so a
request costs what it changed, never what the emulator has seen.

Files: the state file (``--state-file``) holds the whole state in the layout it always had,
which people and tests read. ``<state file>.journal`` holds one JSON line per save:
``[[path, value], [path], ...]``, where a path such as ``["objects", "charge", "ch_1"]`` names
one record, followed by its new value, or alone when the record is gone. A save appends its
line and fsyncs it before the request answers.

On start, the snapshot is read, the journal replayed over it, and both folded into a new
snapshot (the journal is removed): a start costs O(state), a request O(what it changed). A last
line cut short by a crash (no newline) is dropped: its request never got an answer. Replay only
sets and removes whole records, so replaying a journal already folded into the snapshot (a
crash between writing the snapshot and removing the journal) changes nothing. A clean shutdown
folds the journal too, so the state file alone is complete after a stop; so does a save once
the journal outgrows the snapshot (and FOLD_AT_BYTES), which keeps restarts and the disk
bounded at an amortized cost per request that does not grow with the state.

Why a journal rather than SQLite: handlers change the objects they are handed in place, so
either way the store must find out which records changed; once it knows, appending their JSON
is the simplest durable write, the state file keeps its layout, and a restart is one
``json.loads``.

Which records changed: a store keeps its records in ``Table``s, dicts that tell the journal
every key they hand out (``get``, ``[]``, ``setdefault``) or are given. At a save the journal
serializes only those records and writes the ones whose JSON differs from what it last wrote.
A key stays on that list while an asyncio task that was handed its record still runs, unless
that task is the one saving: a task may hold a record across an await and change it after
another request's save (a webhook resend does), and that change must be seen too. A record
changed after being reached only by iterating a table would be missed: the emulators change
records they looked up by key. Hashes are not kept across restarts, so the first time a record
is handed out after one, it is written once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

from emulators.atomic_file import fsync_directory, write_json

log = logging.getLogger("emulators.journal")

RecordPath = tuple[str, ...]
# The journal may grow to this size, or to the snapshot's if larger, before a save folds it.
FOLD_AT_BYTES = 64 * 1024 * 1024
_GONE = object()


def journal_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".journal")


class Table(dict[str, Any]):
    """Records by key that tell their journal (if any) about each key handed out or changed.
    Iterating (``values()``, ``items()``) tells nothing: the emulators only read that way."""

    def __init__(
        self, journal: Journal | None, path: RecordPath, records: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(records or {})
        self.journal = journal
        self.path = path

    def _note(self, key: str, removed: bool = False) -> None:
        if self.journal is not None:
            self.journal.note(self, key, removed)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None, /) -> Any:
        self._note(key)
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None, /) -> Any:
        self._note(key)
        return super().setdefault(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._note(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._note(key, removed=True)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._note(key, removed=True)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self._note(key, removed=True)
        return key, value

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    # dict's own |= would bypass update(); typeshed ties its type to __or__, which stays dict's.
    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        for key in list(self):
            self._note(key, removed=True)
        super().clear()


class Journal:
    """The snapshot and journal of one store; without a state file, it keeps nothing."""

    def __init__(self, state_file: Path | None, whole_state: Callable[[], Any]) -> None:
        self.state_file = state_file
        self._whole_state = whole_state
        # Records handed out since the last save: their table, key, and the tasks holding them.
        self._noted: dict[RecordPath, tuple[Table, str, set[asyncio.Task[Any] | None]]] = {}
        self._removed: set[RecordPath] = set()
        # Values compared whole at every save: small ones a store replaces rather than changes.
        self._watched: dict[RecordPath, Callable[[], Any]] = {}
        # A hash of the JSON last written for each record (only compared within this process).
        self._written: dict[RecordPath, int] = {}
        self._fd: int | None = None
        self._size = 0
        self._snapshot_size = 0

    def table(self, path: RecordPath, records: Mapping[str, Any] | None = None) -> Table:
        return Table(self if self.state_file is not None else None, path, records)

    def watch(self, path: RecordPath, value: Callable[[], Any]) -> None:
        self._watched[path] = value

    def note(self, table: Table, key: str, removed: bool) -> None:
        path = (*table.path, key)
        entry = self._noted.get(path)
        if entry is None:
            entry = self._noted[path] = (table, key, set())
        entry[2].add(_running_task())
        if removed:
            self._removed.add(path)

    def open(self, build: Callable[[dict[str, Any]], None]) -> None:
        """Hand the state kept (the snapshot with the journal replayed over it) to ``build``,
        then fold what the journal held into a new snapshot of the store it built."""
        if self.state_file is None:
            build({})
            return
        state: dict[str, Any] = {}
        if self.state_file.exists():
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            self._snapshot_size = self.state_file.stat().st_size
        journal = journal_path(self.state_file)
        replayed = journal.exists()
        if replayed:
            replay(journal.read_bytes(), state)
        build(state)
        if replayed:
            self.fold()

    def save(self) -> None:
        """Append what changed since the last save as one line, and make it durable."""
        if self.state_file is None:
            return
        changes: list[str] = []
        written: dict[RecordPath, int | None] = {}
        for path, (table, key, _) in self._noted.items():
            self._compare(path, dict.get(table, key, _GONE), changes, written)
        for path, value in self._watched.items():
            self._compare(path, value(), changes, written)
        if changes:
            self._append(("[" + ",".join(changes) + "]\n").encode())
        # Only once the line is on disk: a failed append leaves every record to compare again.
        for path, digest in written.items():
            if digest is None:
                self._written.pop(path, None)
            else:
                self._written[path] = digest
            self._removed.discard(path)
        self._forget_released()
        if self._size > max(FOLD_AT_BYTES, self._snapshot_size):
            self.fold()

    def fold(self) -> None:
        """Write the whole state as the snapshot and start an empty journal."""
        if self.state_file is not None:
            self._fold(self._whole_state())

    def start_over(self) -> None:
        """The store dropped every record (a reset): keep the empty state, forget the rest."""
        self._noted.clear()
        self._removed.clear()
        self._written.clear()
        self.fold()

    def close(self) -> None:
        """Save, then fold, so that the state file alone holds everything after a stop."""
        if self.state_file is None:
            return
        self.save()
        if self._fd is not None or journal_path(self.state_file).exists():
            self.fold()

    def _compare(
        self,
        path: RecordPath,
        value: Any,
        changes: list[str],
        written: dict[RecordPath, int | None],
    ) -> None:
        if value is _GONE:
            # A key looked up and never there needs no line; one that was there does.
            if path in self._written or path in self._removed:
                changes.append(_json([list(path)]))
                written[path] = None
            return
        text = _json(value)
        digest = hash(text)
        if self._written.get(path) != digest:
            changes.append(f"[{_json(list(path))},{text}]")
            written[path] = digest

    def _forget_released(self) -> None:
        """Forget the records that no other running task holds: the saving task's changes are
        written, and a finished task changes nothing more."""
        current = _running_task()
        for path, (_, _, holders) in list(self._noted.items()):
            holders.difference_update(
                [task for task in holders if task is None or task is current or task.done()]
            )
            if not holders:
                del self._noted[path]

    def _append(self, line: bytes) -> None:
        assert self.state_file is not None
        if self._fd is None:
            path = journal_path(self.state_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            fsync_directory(path.parent)
            self._size = os.fstat(self._fd).st_size
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except BaseException:
            # Cut off whatever part of the line got written, so the next one starts clean.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(line)

    def _fold(self, state: Any) -> None:
        assert self.state_file is not None
        write_json(self.state_file, state)
        self._snapshot_size = self.state_file.stat().st_size
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        # The snapshot holds all the journal said; should a crash come first, replaying it
        # over the new snapshot would change nothing.
        journal = journal_path(self.state_file)
        if journal.exists():
            journal.unlink()
            fsync_directory(journal.parent)
        self._size = 0


def replay(journal: bytes, state: dict[str, Any]) -> int:
    """Apply each complete journal line to ``state``; returns how many lines were applied."""
    lines = journal.split(b"\n")
    if lines[-1]:
        # Being written when the emulator stopped: its request never got an answer.
        log.warning("dropping the torn last line of the journal (%d bytes)", len(lines[-1]))
    for number, line in enumerate(lines[:-1], start=1):
        try:
            changes = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} of the emulator's journal is unreadable") from exc
        for change in changes:
            *parents, key = change[0]
            node = state
            for name in parents:
                node = node.setdefault(name, {})
            if len(change) == 2:
                node[key] = change[1]
            else:
                node.pop(key, None)
    return len(lines) - 1


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _running_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop: a script or a test working on the store directly
        return None
