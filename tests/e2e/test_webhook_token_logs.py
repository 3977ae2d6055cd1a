"""Shippo's webhook token (a secret in the URL it calls: Shippo signs nothing) never reaches
the API's log. The request's own line names the method and path only (api/log_context.py),
uvicorn's access line, which would print the query, is off (cli.py), and no refusal echoes
the token. Read from the log file of the stack's real API process."""

from __future__ import annotations

import uuid

import httpx

from devstack.stack import DevStack
from tests.e2e.test_searchable_logs import lines_where

NOT_ACTED = {"event": "transaction_created", "data": {}}


async def test_no_shippo_webhook_token_right_wrong_or_overlong_appears_in_the_api_log(
    api: httpx.AsyncClient, stack: DevStack
) -> None:
    right = stack.env["SHIPPO_WEBHOOK_TOKEN"]
    wrong = f"wrong-{uuid.uuid4().hex}"
    overlong = f"long-{uuid.uuid4().hex}" * 10  # past the 200 characters the route takes
    calls = [(right, 200), (wrong, 401), (overlong, 422)]
    traces = []
    for token, status in calls:
        trace_id = uuid.uuid4().hex
        answer = await api.post(
            "/v1/webhooks/shippo",
            params={"token": token},
            json=NOT_ACTED,
            headers={"traceparent": f"00-{trace_id}-{'c4' * 8}-01"},
        )
        assert answer.status_code == status, answer.text
        assert token not in answer.text
        traces.append((trace_id, status))

    for trace_id, status in traces:
        [line] = await lines_where(stack, "api", trace_id=trace_id)
        assert line["message"].startswith(f"POST /v1/webhooks/shippo {status} ")
    log = (stack.data_dir / "logs" / "api.log").read_text()
    assert "/v1/webhooks/shippo" in log
    for token, _ in calls:
        assert token not in log
    assert "token=" not in log
