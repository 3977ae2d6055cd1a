"""Connecting to Temporal with the project's data converter."""

from __future__ import annotations

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from temporal.tracing import Tracing


class TemporalUnreachableError(ConnectionError):
    """The Temporal server did not answer the connection."""


async def connect(
    address: str,
    namespace: str = "default",
    runtime: Runtime | None = None,
    *,
    traced: bool = False,
) -> Client:
    """`runtime`: the SDK's (its metrics, temporal/telemetry.py); None for the default one.

    `traced` (models/tracing.py started a provider): Temporal's OpenTelemetry interceptor on
    the client, which a worker built on it takes over too. The client's spans (start, update)
    carry the trace in headers; the worker continues it in the workflow, its activities and
    children, and the workflow spans are made only outside replay, so a replayed history
    never repeats them. Off, no header is written and nothing is paid per call."""
    try:
        return await Client.connect(
            address,
            namespace=namespace,
            data_converter=pydantic_data_converter,
            runtime=runtime,
            interceptors=[Tracing()] if traced else [],
        )
    except RuntimeError as error:
        # The SDK says "Failed client connect" with a RuntimeError; a caller (an operator's
        # command) tells a server that does not answer from a bug by the type.
        if "connect" not in str(error).lower():
            raise
        raise TemporalUnreachableError(f"Temporal at {address}: {error}") from error


async def signal_if_running(client: Client, workflow_id: str, signal: str) -> str | None:
    """Send `signal` to the workflow if it runs; otherwise why not (for an operator: a
    signal to a closed or unknown workflow would fail with a less helpful error)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return f"Temporal has no workflow {workflow_id}"
    if described.status != WorkflowExecutionStatus.RUNNING:
        state = described.status.name.lower() if described.status else "unknown"
        return f"its workflow {workflow_id} is not running ({state})"
    try:
        await handle.signal(signal)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return f"its workflow {workflow_id} closed before the signal reached it"
    return None
