"""The flash sale's fast lane: a sold-out checkout refused before FastAPI sees it (issue 10).

In a flash sale most buyers are refused, and the gate (api/admission.py) knows the answer in
a Redis round trip. Through the router a refusal still paid for FastAPI's dependency
resolution, a database session and the exception handlers: about 3.4 ms of the API's CPU
each, which made the API process the flash sale's bottleneck. This pure-ASGI middleware asks
the gate itself for `POST /v1/orders` when the request is one the route would accept as far
as can be told without a database (the platform's key, a valid Idempotency-Key, a JSON body
that validates as OrderCreate), and answers a refusal at once.

It never decides more than the gate would in the route: an admitted request goes on to the
route, marked so the route does not ask again, and the hold it took ends just before the
route's answer starts, as when the route ended it. Any request it cannot judge (another key,
a body the route will refuse with its own 400 or 422, the gate failing in an unexpected way)
goes on undecided, and the route asks the gate as before.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import admission, checkout_metrics, request_metrics
from api.asgi import bearer_token, header, read_body, replaying
from api.auth import Role, bootstrap_role
from api.errors import Problem, problem_response
from domain.idempotency import key_problem
from domain.ids import order_id_for_idempotency_key, request_fingerprint
from models.logs import annotate
from models.views import OrderCreate

log = logging.getLogger("fulfillment.api")

PATH = "/v1/orders"
# Where the lane leaves its verdict for the route (an ASGI extension key of this app's own).
ADMITTED = "fulfillment.checkout_lane.admitted"


def admitted(request: Request) -> bool:
    """True when the lane has already let this request through the gate."""
    return bool(request.scope.get(ADMITTED, False))


class CheckoutLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_checkout(scope) or not _from_platform(scope):
            await self.app(scope, receive, send)
            return
        key = header(scope, b"idempotency-key")
        if key is None or key_problem(key) is not None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body = await read_body(receive)
        if body is None:
            return  # the client left before sending its request
        receive = replaying(body, receive)
        order = _as_the_route_reads_it(body)
        if order is None:
            await self.app(scope, receive, send)  # the route answers its own 400 or 422
            return
        order_id = order_id_for_idempotency_key("platform", key)
        annotate(order_id=order_id)  # its log lines name the order, refusals included
        fingerprint = request_fingerprint(order.fingerprint_payload())
        app = scope["app"]
        try:
            held = await admission.admit_or_refuse(app, order_id, order.lines, fingerprint)
        except Problem as refusal:
            scope[request_metrics.ROUTE] = PATH  # counted with the route's own answers
            checkout_metrics.record(refusal, time.perf_counter() - started)
            await problem_response(refusal.code, refusal.detail, **refusal.extra)(
                scope, receive, send
            )
            return
        except Exception:
            log.warning("checkout lane: the gate failed; the route decides", exc_info=True)
            await self.app(scope, receive, send)
            return
        scope[ADMITTED] = True
        if not held:
            await self.app(scope, receive, send)
            return
        settled = False

        async def settle() -> None:
            nonlocal settled
            if not settled:
                settled = True
                await admission.settle(app, order_id)

        async def settle_then_send(message: Message) -> None:
            # The hold ends before the answer starts, as when the route ended it: once the
            # saga's reservation is published the hold counts its units a second time, and a
            # buyer's next checkout must not meet that double count.
            if message["type"] == "http.response.start":
                await settle()
            await send(message)

        try:
            await self.app(scope, receive, settle_then_send)
        finally:
            await settle()  # no answer started (an error, a client gone)


def _as_the_route_reads_it(body: bytes) -> OrderCreate | None:
    """The order, parsed as FastAPI parses a body (`json.loads`, then the model on the
    result), or None where the route would refuse it: the lane never judges a body the route
    would not accept (a 5,000-digit number that `json.loads` refuses and pydantic's own JSON
    parser accepts, say)."""
    try:
        document = json.loads(body)
        return OrderCreate.model_validate(document)
    except (ValueError, RecursionError):  # ValidationError is a ValueError
        return None


def _is_checkout(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH


def _from_platform(scope: Scope) -> bool:
    token = bearer_token(scope)
    settings = scope["app"].state.settings
    return token is not None and bootstrap_role(token, settings) == Role.PLATFORM


def _is_json(scope: Scope) -> bool:
    media_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return media_type == "application/json"
