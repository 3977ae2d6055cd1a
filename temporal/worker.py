"""Worker construction: the workflows it is given (workflows/registry.py, by worker.py), and
the activity classes' bound methods."""

from __future__ import annotations

import compileall
import logging
import py_compile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from temporal.log_context import LogContextInterceptor

# Where `@activity.defn` keeps a function's definition (temporalio/activity.py); the SDK has
# no public test for it, and a test here registers every activity of every class with it.
_DEFINITION = "__temporal_activity_definition"

log = logging.getLogger("fulfillment.worker")


def activity_methods(*instances: object) -> list[Callable[..., Any]]:
    """Every activity (`@activity.defn`) of the given activity class instances, as bound
    methods: a method added to a class is registered with nothing else to change."""
    methods = []
    for instance in instances:
        for attribute in dir(type(instance)):
            if hasattr(getattr(type(instance), attribute), _DEFINITION):
                methods.append(getattr(instance, attribute))
    return methods


WORKFLOWS_PACKAGE = Path(__file__).resolve().parent.parent / "workflows"


def write_workflow_bytecode(package: Path = WORKFLOWS_PACKAGE) -> bool:
    """Compile the workflow modules to __pycache__ once, before the first workflow starts.

    The workflow sandbox executes each workflow module afresh for every workflow instance it
    builds: every new order, vendor order and notification, and every one evicted from the
    sticky cache. Python takes the module's code from __pycache__ when it is there, and
    otherwise compiles the source every time: 15 ms for workflows/order.py and 9 ms for
    workflows/vendor_order.py on the benchmark machine, about a third of the worker's CPU
    per order (bench/README.md). PYTHONDONTWRITEBYTECODE, set in many shells and CI images
    (this machine's among them), stops Python from ever writing that cache, so the worker
    writes it itself. An installed package (`pip install .`, as in the image) has it already,
    and then this checks and writes nothing."""
    try:
        # Timestamp pycs, whatever SOURCE_DATE_EPOCH says: compile_dir's own "up to date"
        # check reads only those, and would otherwise rewrite every file at each start.
        compiled = compileall.compile_dir(
            package,
            quiet=2,
            maxlevels=0,
            invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP,
        )
    except OSError as error:  # compile_dir reports most write errors by its result
        compiled = False
        log.debug("could not write the workflow bytecode: %s", error)
    if not compiled:
        log.warning(
            "the workflow modules' bytecode could not be written under %s: every new "
            "workflow instance compiles its module from source",
            package,
        )
    return compiled


def make_worker(
    client: Client,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    write_workflow_bytecode()
    return Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        max_concurrent_activities=100,
        # First: every activity's log lines name its workflow, run and order.
        interceptors=[LogContextInterceptor(), *interceptors],
    )
