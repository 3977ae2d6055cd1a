"""The saga benchmark's checkouts (bench.saga): its three modes, one checkout of each, and a
batch of them with the CPU each server spent meanwhile and the history events of a sample of
them when their answer arrived (after a bare batch, its workflows are ended); a `Cell` sums
one mode's batches at one concurrency level over the rounds."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from bench import log
from bench.bare_saga import (
    CHECKOUT_UPDATE,
    CHECKOUT_WORKFLOW,
    CONFIRMED,
    DEFAULT_HOLD_SECONDS,
    FINISH_SIGNAL,
    LOCAL_CHECKOUT_WORKFLOW,
)
from bench.bare_saga import vendor_order_id as bare_vendor_order_id
from bench.proc_stats import cpu_ticks, ticks_between
from bench.shop import REQUEST_TIMEOUT, Placed, checkout
from domain.ids import order_workflow_id, vendor_order_id, vendor_order_workflow_id

BARE_TASK_QUEUE = "bench-bare-saga"
# Workflows a bare checkout left open are ended this many at a time after its batch.
FINISH_CONCURRENCY = 16


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    workflow: str | None  # None: the real checkout, through the API


REAL = Mode("a", "(a) real checkout", None)
BARE = Mode("b", "(b) bare, activities", CHECKOUT_WORKFLOW)
LOCAL = Mode("c", "(c) bare, local act.", LOCAL_CHECKOUT_WORKFLOW)
MODES = (REAL, BARE, LOCAL)


# ---------------------------------------------------------------------------------------
# Pure helpers (tests/tooling/test_bench_saga.py)


def events_until(times: Iterable[float], moment: float) -> int:
    """How many events happened at or before `moment` (epoch seconds)."""
    return sum(1 for at in times if at <= moment)


@dataclass(frozen=True)
class EventCount:
    alone: int  # the order's (or the bare parent's) workflow
    all: int  # every workflow of the order
    workflows: int  # how many of them had started by then


def event_count(per_workflow: Sequence[int]) -> EventCount:
    """The first workflow is the order's own; one with no events yet did not exist."""
    return EventCount(
        alone=per_workflow[0] if per_workflow else 0,
        all=sum(per_workflow),
        workflows=sum(1 for count in per_workflow if count > 0),
    )


T = TypeVar("T")


def sample_evenly(items: Sequence[T], most: int) -> list[T]:
    """At most `most` of the items, spread evenly from first to last."""
    if most <= 0 or not items:
        return []
    if len(items) <= most:
        return list(items)
    step = len(items) / most
    return [items[int(n * step)] for n in range(most)]


# ---------------------------------------------------------------------------------------
# Checkouts and their batches


def _event_seconds(event: HistoryEvent) -> float:
    return event.event_time.seconds + event.event_time.nanos / 1e9


@dataclass
class Batch:
    placed: list[Placed]
    wall: float
    ticks: dict[str, int]
    events: list[EventCount]


@dataclass
class Cell:
    """One mode at one concurrency level, summed over the rounds."""

    latencies: list[float] = field(default_factory=list)
    orders: int = 0
    wall: float = 0.0
    ticks: dict[str, int] = field(default_factory=dict)
    events: list[EventCount] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


def add_batch(cell: Cell, batch: Batch) -> None:
    for order in batch.placed:
        if order.ok:
            cell.latencies.append(order.seconds)
        else:
            cell.failures[order.outcome] = cell.failures.get(order.outcome, 0) + 1
    cell.orders += len(batch.placed)
    cell.wall += batch.wall
    for role, ticks in batch.ticks.items():
        cell.ticks[role] = cell.ticks.get(role, 0) + ticks
    cell.events.extend(batch.events)


class Bench:
    def __init__(
        self,
        api: httpx.AsyncClient,
        temporal: Client,
        vendor_id: str,
        sku: str,
        servers: Mapping[str, Sequence[int]],
        args: argparse.Namespace,
    ) -> None:
        self.api, self.temporal = api, temporal
        self.vendor_id, self.sku = vendor_id, sku
        self.servers = servers
        self.args = args
        self.run = uuid.uuid4().hex[:8]

    async def place(self, mode: Mode, placed: Placed) -> None:
        """One checkout, timed from send to answer."""
        if mode.workflow is None:
            await checkout(self.api, self.sku, placed, "Saga")
        else:
            await self._place_bare(mode.workflow, placed)

    async def _place_bare(self, workflow: str, placed: Placed) -> None:
        start: WithStartWorkflowOperation[Any, str] = WithStartWorkflowOperation(
            workflow,
            DEFAULT_HOLD_SECONDS,
            id=placed.key,
            task_queue=BARE_TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            result_type=str,
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                answer = await self.temporal.execute_update_with_start_workflow(
                    CHECKOUT_UPDATE, start_workflow_operation=start, result_type=str
                )
        except Exception as error:  # any failure is a failed checkout, reported by kind
            placed.seconds = time.perf_counter() - started
            placed.outcome = type(error).__name__
            return
        placed.seconds = time.perf_counter() - started
        placed.answered_at = time.time()
        placed.outcome = "ok" if answer == CONFIRMED else f"answered {answer!r}"

    def _workflow_ids(self, mode: Mode, placed: Placed) -> list[str]:
        """The order's own workflow first, then every other workflow started for it."""
        if mode.workflow is not None:
            return [placed.key, bare_vendor_order_id(placed.key)]
        order_id, vendor = placed.order_id, self.vendor_id
        return [
            order_workflow_id(order_id),
            vendor_order_workflow_id(order_id, vendor),
            # A vendor without a webhook URL should get none (issue 10); counted if it exists.
            f"notify-{vendor_order_id(order_id, vendor)}.vendor_order.created",
        ]

    async def events_at_answer(self, mode: Mode, placed: Placed) -> EventCount:
        counts = []
        for workflow_id in self._workflow_ids(mode, placed):
            try:
                history = await self.temporal.get_workflow_handle(workflow_id).fetch_history()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                counts.append(0)
                continue
            times = [_event_seconds(event) for event in history.events]
            counts.append(events_until(times, placed.answered_at))
        return event_count(counts)

    async def finish_bare(self, placed: Sequence[Placed]) -> None:
        """End the bare children and parents, so no timer of theirs fires in a later batch."""
        gate = asyncio.Semaphore(FINISH_CONCURRENCY)

        async def finish(one: Placed) -> None:
            async with gate:
                try:
                    child = self.temporal.get_workflow_handle(bare_vendor_order_id(one.key))
                    await child.signal(FINISH_SIGNAL)
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        await self.temporal.get_workflow_handle(one.key).result()
                except Exception as error:  # a checkout that failed may have no child
                    log(f"could not end {one.key}: {type(error).__name__} {error}")

        await asyncio.gather(*(finish(one) for one in placed))

    async def batch(self, mode: Mode, level: int, count: int, tag: str) -> Batch:
        """`count` checkouts of `mode`, at most `level` at a time, with the CPU each server
        spent meanwhile and the history events of a sample of them."""
        prefix = f"saga-{self.run}-{tag}" if mode.workflow is None else f"bare-{self.run}-{tag}"
        placed = [Placed(f"{prefix}-{n}") for n in range(count)]
        gate = asyncio.Semaphore(level)

        async def one(order: Placed) -> None:
            async with gate:
                await self.place(mode, order)

        before = cpu_ticks(self.servers)
        started = time.perf_counter()
        await asyncio.gather(*(one(order) for order in placed))
        wall = time.perf_counter() - started
        # What the orders set off after their answer (webhooks, the children's first tasks)
        # is theirs too: it lands in this batch's CPU, not the next one's.
        await asyncio.sleep(self.args.settle)
        spent = ticks_between(before, cpu_ticks(self.servers))
        answered = [order for order in placed if order.ok]
        events = [
            await self.events_at_answer(mode, order)
            for order in sample_evenly(answered, self.args.history_sample)
        ]
        if mode.workflow is not None:
            await self.finish_bare(answered)
        return Batch(placed, wall, spent, events)
