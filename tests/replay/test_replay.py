"""Recorded histories replay against today's workflow code: a change that would break
running workflows fails here (DESIGN.md: gate such changes with `workflow.patched`).

Patches are retired the documented way (issue 11): the lean patches of issue 10 are
deprecated and the paths before them are gone, so runs recorded before them no longer replay
(tests/replay/retired); the version is deployed once none of those is open
(docs/production.md, "Retired patches"). Runs that continued as new recorded their marker at
their first patch question, not their start: they are recorded too
(`python -m tests.replay.record_continued`, with the code of the time)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, WorkflowReplayResult
from temporalio.workflow import NondeterminismError

from temporal.tracing import Tracing
from workflows.registry import WORKFLOWS

HERE = Path(__file__).parent
HISTORIES = sorted((HERE / "histories").glob("*.json"))
RETIRED = sorted((HERE / "retired").glob("*.json"))


def replay(path: Path, traced: bool = False) -> WorkflowReplayResult:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        # A worker with traces on (temporal/tracing.py) replays what one without recorded.
        interceptors=[Tracing()] if traced else [],
    )
    return asyncio.run(replayer.replay_workflow(history, raise_on_replay_failure=False))


def test_there_are_recorded_histories_of_both_workflows_every_ending_and_continued_runs() -> None:
    names = {path.stem for path in HISTORIES}
    assert names >= {
        "order_completed_issue10_lean",
        "order_declined_issue10_lean",
        "order_cancelled_issue10_lean",
        "vendor_order_completed_issue10_lean",
        "vendor_order_cancelled_issue10_lean",
        # Continued as new: the marker sits where the run first asked about a patch.
        "vendor_order_payout_continued_issue10_lean",
        "vendor_order_hold_cancelled_issue10_lean",
        "vendor_order_shipped_after_continuing_issue10_lean",
        "vendor_order_cancelled_after_continuing_issue10_lean",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_a_recorded_history_replays_without_nondeterminism(path: Path) -> None:
    assert replay(path).replay_failure is None


def test_turning_traces_on_changes_no_workflow_command_of_any_recorded_history() -> None:
    failures = {path.stem: replay(path, traced=True).replay_failure for path in HISTORIES}
    assert {name: failure for name, failure in failures.items() if failure} == {}


def test_runs_from_before_the_retired_patches_are_kept_to_show_they_are_refused() -> None:
    assert {path.stem for path in RETIRED} == {
        "order_completed_issue9_hardening",
        "vendor_order_completed_issue9_hardening",
    }


@pytest.mark.parametrize("path", RETIRED, ids=[p.stem for p in RETIRED])
def test_a_run_from_before_the_retired_patches_is_refused_so_it_must_close_before_deploying(
    path: Path,
) -> None:
    failure = replay(path).replay_failure
    # The old path is gone: replay stops where the old run did what today's code does not
    # (a step that was an activity, a marker of a patch it has no code for).
    assert isinstance(failure, NondeterminismError), failure
