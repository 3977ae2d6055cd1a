"""Every activity's log lines name its workflow, run and order (models/logs.py).

One interceptor binds the context around every activity the worker runs, so no activity has
to: the workflow and run come from `activity.info()`, the order and vendor order from the
activity's input where it has them as fields, else from the workflow id (domain/ids.py).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from models.logs import bound
from models.tracing import current_trace_id


def _field(args: Any, name: str) -> str | None:
    # Activity inputs are single models (DESIGN.md); a plain value has no ids to give.
    for argument in args:
        value = getattr(argument, name, None)
        if isinstance(value, str) and value:
            return value
    return None


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        with bound(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            order_id=_field(input.args, "order_id"),
            vendor_order_id=_field(input.args, "vendor_order_id"),
            # Temporal's tracing interceptor, outside this one, made the activity's span.
            trace_id=current_trace_id(),
        ):
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)
