"""Before deploying: does this code replay every workflow that is still open?

A worker of a new version takes over every open order and vendor order: each is replayed
from its history on the new code, and a change that records different commands fails that
workflow's task with a nondeterminism error, and the order waits until a fixed version is
deployed. The recorded histories in tests/replay cover the paths the tests take; this checks
the real ones, on the production server, before the deploy (docs/production.md, "Before a
deploy"): `fulfillment replay` runs it with the code of the version about to go out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

OPEN = "ExecutionStatus = 'Running'"


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    workflow_type: str
    error: str

    def __str__(self) -> str:
        return f"{self.workflow_id} ({self.workflow_type}): {self.error}"


@dataclass
class ReplayReport:
    replayed: int = 0
    failures: list[ReplayFailure] = field(default_factory=list)


def _type_of(history: WorkflowHistory) -> str:
    first = history.events[0] if history.events else None
    if first is None or not first.HasField("workflow_execution_started_event_attributes"):
        return "?"
    return first.workflow_execution_started_event_attributes.workflow_type.name


async def replay_workflows(
    client: Client,
    workflows: Sequence[type],
    query: str = OPEN,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Replay the histories of the workflows `query` finds (the open ones by default) on
    `workflows`, the code of this version. `progress(done, total)` after each."""
    total = (await client.count_workflows(query)).count
    if limit is not None:
        total = min(total, limit)

    async def histories() -> AsyncIterator[WorkflowHistory]:
        async for history in client.list_workflows(query, limit=limit).map_histories():
            yield history

    # The client's data converter: the inputs in the histories are read as the worker would.
    replayer = Replayer(workflows=workflows, data_converter=client.data_converter)
    report = ReplayReport()
    async with replayer.workflow_replay_iterator(histories()) as results:
        async for result in results:
            report.replayed += 1
            if result.replay_failure is not None:
                first_line = (str(result.replay_failure).strip().splitlines() or ["?"])[0]
                report.failures.append(
                    ReplayFailure(result.history.workflow_id, _type_of(result.history), first_line)
                )
            if progress is not None:
                progress(report.replayed, max(total, report.replayed))
    return report
