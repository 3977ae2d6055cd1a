"""Temporal's OpenTelemetry interceptor, with an update continuing its caller's trace.

Temporal's `TracingInterceptor` puts every span a workflow makes under the trace of the call
that started it, and an update's handler only *links* to the update's caller. For an order
that is a trace started at checkout, and a vendor's ship request days later whose label, Shippo
call and shipment record sit in the checkout's trace, not its own. Here an update that brings
a trace (its header) is handled inside that trace: "why did this ship request take 4 s" is
answered by the request's own trace. Updates without one (a client that does not trace) keep
the SDK's behaviour.

Spans change no workflow command: the context only decides which trace an activity's span and
header join, so replay is unaffected (and no workflow span is made while replaying).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import opentelemetry.context
from opentelemetry.trace import SpanKind
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import (
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)


@contextmanager
def _within(context: opentelemetry.context.Context) -> Iterator[None]:
    token = opentelemetry.context.attach(context)
    try:
        yield
    finally:
        # An evicted workflow's handler may be finalized in another contextvars context,
        # where the token means nothing: then there is nothing of ours to detach.
        if opentelemetry.context.get_current() is context:
            try:
                token.var.reset(token)
            except ValueError:
                pass


class _UpdatesInTheirCallersTrace(TracingWorkflowInboundInterceptor):
    def _callers_context(
        self, headers: Mapping[str, Payload]
    ) -> opentelemetry.context.Context | None:
        header = headers.get(self.header_key)
        if header is None:
            return None
        carrier = self.payload_converter.from_payloads([header])[0]
        if not carrier:
            return None
        return self._set_on_context(self.text_map_propagator.extract(carrier))

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        context = self._callers_context(input.headers)
        if context is None:
            return super().handle_update_validator(input)
        with _within(context):
            self._completed_span(f"ValidateUpdate:{input.update}", kind=SpanKind.SERVER)
            WorkflowInboundInterceptor.handle_update_validator(self, input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        context = self._callers_context(input.headers)
        if context is None:
            return await super().handle_update_handler(input)
        with _within(context):
            self._completed_span(f"HandleUpdate:{input.update}", kind=SpanKind.SERVER)
            # Past the SDK's handler on purpose: it would put the workflow's trace back.
            return await WorkflowInboundInterceptor.handle_update_handler(self, input)


class Tracing(TracingInterceptor):
    """The client's and worker's interceptor when traces are on (temporal/client.py)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span-making extern
        return _UpdatesInTheirCallersTrace
