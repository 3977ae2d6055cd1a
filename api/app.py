"""The FastAPI app factory. Clients are built in the lifespan, never at import time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import admission, errors, idempotency, openapi_document
from api.body_limit import BodyLimit
from api.checkout_lane import CheckoutLane
from api.known_orders import KnownOrders
from api.log_context import log_context, name_path_ids
from api.rate_limit import RateLimit
from api.request_metrics import RequestMetrics
from api.routers import (
    checkout,
    health,
    inventory,
    ops,
    ops_reroute,
    ops_vendors,
    order_list,
    orders,
    platform_webhooks,
    stock_feeds,
    stream,
    vendor_app,
    vendor_catalog,
    vendor_keys,
    vendors,
)
from api.routers.webhooks import shippo as shippo_webhook
from api.routers.webhooks import stripe as stripe_webhook
from api.text_guard import UnstorableTextGuard
from api.tracing import trace_requests
from models.settings import Settings, get_settings
from models.tracing import start_tracing
from providers.stripe_adapter import StripeGateway
from stores.db import connect_redis, make_engine, make_sessionmaker
from stores.rate_limits import RateLimits
from stores.stock_changes import StockAnnouncer
from stores.stock_gate import StockGate
from temporal.client import connect


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Per process (each API worker process builds its own app): the provider's export thread
    # belongs to the process that started it.
    tracing = start_tracing(settings.traces, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=20)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.known_orders = KnownOrders(app.state.sessions)
        app.state.redis = connect_redis(settings.redis_url)
        app.state.gate = StockGate(app.state.redis)
        app.state.rate_limits = RateLimits(app.state.redis)
        app.state.gate_rebuild = asyncio.Lock()
        app.state.background = set()
        app.state.announcer = StockAnnouncer(app.state.redis, app.state.gate)
        if not await app.state.gate.is_built():
            await admission.rebuild(app)
        app.state.stripe = StripeGateway.connect(
            settings.stripe_api_key, settings.stripe_api_base, settings.stripe_timeout_seconds
        )
        app.state.temporal = await connect(
            settings.temporal_address, settings.temporal_namespace, traced=tracing is not None
        )
        try:
            yield
        finally:
            await app.state.stripe.aclose()
            await app.state.redis.aclose()
            await app.state.known_orders.close()
            await engine.dispose()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title="Fulfillment core",
        version="1",
        summary="Orders as durable sagas for multi-vendor marketplaces",
        lifespan=lifespan,
        dependencies=[Depends(name_path_ids)],
    )
    errors.install(app)
    idempotency.install(app)
    # Around the idempotency middleware (which leaves checkout alone) and inside the text
    # guard: a sold-out checkout is refused before the router, once its text is known sound.
    app.add_middleware(CheckoutLane)
    # Added after (so around) the idempotency middleware: text no column can hold is refused
    # before anything keeps the request.
    app.add_middleware(UnstorableTextGuard)
    # Around all that reads a body: one larger than a route takes is never read whole.
    app.add_middleware(BodyLimit)
    # Around everything that keeps or starts anything: a request over its key's budget
    # changes nothing (api/rate_limit.py).
    app.add_middleware(RateLimit)
    # Outermost: its timing covers every other middleware.
    app.add_middleware(RequestMetrics)
    # Around even that: every line any middleware writes names the request's trace.
    app.add_middleware(log_context)

    routers = (
        health.router,
        # By audience: the storefront, vendors (their app, their account), stock, ops, providers.
        checkout.router,
        orders.router,
        order_list.router,
        platform_webhooks.router,
        stream.router,
        vendor_app.router,
        vendor_keys.router,
        vendor_catalog.router,
        vendors.router,
        # Before inventory: /v1/inventory/feeds/... is not a SKU's path.
        stock_feeds.router,
        inventory.router,
        ops.router,
        ops_reroute.router,
        ops_vendors.router,
        platform_webhooks.ops_router,
        stripe_webhook.router,
        shippo_webhook.router,
    )
    for router in routers:
        app.include_router(router)
    # Every status each route can answer, from one table (api/openapi_contract.py).
    openapi_document.install(app)
    if tracing is not None:
        trace_requests(app)
    return app
