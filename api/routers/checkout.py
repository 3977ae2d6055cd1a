"""Checkout: the storefront places an order, `POST /v1/orders` (API.md, "Orders").

The Redis gate answers first (api/admission.py; api/checkout_lane.py before the router), then
the order's saga is started, or attached to, by update-with-start, and its answer is the
answer: 201 with the confirmed order, or the refusal as a problem."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, status
from sqlmodel import col, select
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import admission, checkout_lane, checkout_metrics
from api.deps import Platform, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, from_application_error, from_update_failure
from api.views import order_view
from domain import progress
from domain.errors import ErrorCode
from domain.ids import (
    checkout_update_id,
    order_id_for_idempotency_key,
    order_workflow_id,
    request_fingerprint,
)
from domain.vendor_status import ensure_sellable
from models.catalog import Product
from models.logs import annotate
from models.messages.checkout import CheckoutRequest, CheckoutResult, LineRequest, OrderInput
from models.order import Order
from models.vendor import Vendor
from models.views import OrderCreate, OrderPublic
from temporal import search_attributes as sa
from temporal.names import Update, Workflow

router = APIRouter(prefix="/v1", tags=["orders"])

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="The same key and body answer the same order, however often sent",
    ),
]


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderPublic,
    responses={
        402: {"description": "payment_declined"},
        409: {"description": "insufficient_stock, vendor_unavailable"},
    },
)
async def place_order(
    body: OrderCreate,
    request: Request,
    idempotency_key: IdempotencyKey,
    _: Platform,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> OrderPublic:
    # Counted here, whatever the answer (api/checkout_metrics.py); a buyer who left before
    # the answer (cancelled) got none and is not counted.
    started = time.perf_counter()
    try:
        order = await _admit_and_check_out(
            body, request, idempotency_key, session, temporal, settings
        )
    except Exception as error:
        checkout_metrics.record(error, time.perf_counter() - started)
        raise
    checkout_metrics.record(None, time.perf_counter() - started)
    return order


async def _admit_and_check_out(
    body: OrderCreate,
    request: Request,
    idempotency_key: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> OrderPublic:
    order_id = order_id_for_idempotency_key("platform", idempotency_key)
    annotate(order_id=order_id)
    fingerprint = request_fingerprint(body.fingerprint_payload())
    # The gate first, before any database read (a flash sale's refusals take milliseconds).
    # It remembers every checkout it admitted for a day, so a retry of a known key is
    # admitted again and attaches to its saga below, never counted twice. The checkout lane
    # (api/checkout_lane.py) has asked it already for a well-formed request.
    held = False
    if not checkout_lane.admitted(request):
        held = await admission.admit_or_refuse(request.app, order_id, body.lines, fingerprint)
    try:
        return await _check_out(
            body, order_id, fingerprint, idempotency_key, session, temporal, settings
        )
    finally:
        if held:
            await admission.settle(request.app, order_id)


async def _check_out(
    body: OrderCreate,
    order_id: str,
    fingerprint: str,
    idempotency_key: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> OrderPublic:
    """Answer a known order from the store, attach to its saga while it is at work, or start
    its saga; answer with what the saga answers."""
    existing = await session.get(Order, order_id, populate_existing=True)
    if existing is not None and existing.status != "pending":
        # Done (whatever Temporal still keeps of its workflow): never a second saga.
        return await _replay_finished(session, existing, fingerprint)
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise Problem(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for another order"
        )
    if existing is None:
        await _check_catalog(session, body)
    # End the read transaction: the wait for the saga below must not hold a connection
    # (a flash sale would exhaust the pool).
    await session.rollback()
    order = OrderInput(
        order_id=order_id,
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[LineRequest(sku=line.sku, quantity=line.quantity) for line in body.lines],
        shipping_address=body.shipping_address.model_dump(mode="json"),
        payment_method=body.payment_method,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        timing=settings.timing_policy(),
    )
    start: WithStartWorkflowOperation[Any, str] = WithStartWorkflowOperation(
        Workflow.ORDER,
        order,
        id=order_workflow_id(order_id),
        task_queue=settings.task_queue,
        # Concurrent retries attach to the running saga; a finished one is never restarted.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.ORDER_STATUS, "pending"),
                SearchAttributePair(sa.CUSTOMER_ID, body.customer_id),
            ]
        ),
        # What the order is, in the Temporal UI's list (what it does now: current details).
        static_summary=progress.order_summary(
            order_id, body.customer_id, [(line.sku, line.quantity) for line in body.lines]
        ),
    )
    try:
        async with asyncio.timeout(settings.checkout_timeout.total_seconds()):
            result: CheckoutResult = await temporal.execute_update_with_start_workflow(
                Update.CHECKOUT,
                CheckoutRequest(request_fingerprint=fingerprint),
                start_workflow_operation=start,
                # One update per body: Temporal answers a repeated one from its first run.
                id=checkout_update_id(fingerprint),
                result_type=CheckoutResult,
            )
    except WorkflowUpdateFailedError as error:
        raise from_update_failure(error) from error
    except (WorkflowAlreadyStartedError, RPCError) as error:
        # The saga already finished: its outcome is in the order store.
        replay = await _replay(session, order_id, fingerprint)
        if replay is not None:
            return replay
        await _refusal_from_workflow(temporal, order_id)
        raise Problem(ErrorCode.UNAVAILABLE, "the order could not be placed; retry") from error
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
        # Our deadline, or Temporal's: the saga goes on, and the same request attaches to it.
        raise Problem(
            ErrorCode.TIMEOUT,
            "the order is still being processed; retry with the same Idempotency-Key",
        ) from error
    if result.order is not None:
        return result.order  # read when the saga confirmed it
    return await order_view(session, order_id)  # a saga started before issue 10


async def _refusal_from_workflow(temporal: TemporalDep, order_id: str) -> None:
    """A saga refused before it could record the order (the store refused its data): its
    refusal is in its own result, and is the answer to every retry."""
    handle = temporal.get_workflow_handle(order_workflow_id(order_id))
    try:
        async with asyncio.timeout(2):
            await handle.result(follow_runs=False)
    except WorkflowFailureError as failure:
        if isinstance(failure.cause, ApplicationError):
            raise from_application_error(failure.cause) from failure
    except (TimeoutError, RPCError):
        pass


async def _replay(session: SessionDep, order_id: str, fingerprint: str) -> OrderPublic | None:
    existing = await session.get(Order, order_id, populate_existing=True)
    if existing is None or existing.status == "pending":
        return None
    return await _replay_finished(session, existing, fingerprint)


async def _replay_finished(session: SessionDep, existing: Order, fingerprint: str) -> OrderPublic:
    if existing.request_fingerprint != fingerprint:
        raise Problem(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for another order"
        )
    if existing.rejection:
        rejection: dict[str, Any] = dict(existing.rejection)
        raise Problem(ErrorCode(rejection.pop("code")), rejection.pop("detail", ""), **rejection)
    return await order_view(session, existing.id)


async def _check_catalog(session: SessionDep, body: OrderCreate) -> None:
    """Refuse what no saga could fulfil before starting one: a bad request changes nothing."""
    skus = sorted({line.sku for line in body.lines})
    rows = await session.exec(
        select(Product, Vendor.status)
        .join(Vendor, col(Vendor.id) == col(Product.vendor_id))
        .where(col(Product.sku).in_(skus))
    )
    found = list(rows)
    products = {p.sku: p for p, _ in found}
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise Problem(ErrorCode.VALIDATION_ERROR, "unknown sku(s)", skus=unknown)
    foreign = [sku for sku, p in products.items() if p.currency != body.currency]
    if foreign:
        raise Problem(
            ErrorCode.VALIDATION_ERROR,
            f"product(s) not sold in {body.currency}",
            skus=sorted(foreign),
        )
    # A pending or suspended vendor's products are not sold (the saga's catalog step asks
    # again, for a vendor suspended after this read).
    ensure_sellable((p.sku, p.vendor_id, status) for p, status in found)
