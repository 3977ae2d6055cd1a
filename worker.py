"""The worker process: the one place real dependencies are built (DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import uvloop
from prometheus_client import REGISTRY, start_http_server
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.events import RedisEventPublisher
from activities.inventory import InventoryActivities
from activities.notifications import NotificationActivities
from activities.orders import OrderStoreActivities
from activities.payments import PaymentActivities
from activities.refunds import RefundActivities
from activities.returns import ReturnActivities
from activities.shipping import ShippingActivities
from activities.stock_feeds import StockFeedActivities
from activities.supplier import SupplierActivities
from activities.webhook_sender import WebhookSender
from domain.delivery_schedule import DisablePolicy, RetryPolicy
from domain.outbound_urls import OutboundPolicy
from domain.routing import RoutingWeights
from jobs.feed_sweeper import sweep as sweep_feeds
from jobs.platform_events import OutboxSettings, PlatformOutbox
from jobs.reaper import reap
from jobs.state_metrics import StateCollector
from models.logs import configure_logging
from models.settings import Settings, get_settings
from models.tracing import start_tracing
from providers.shippo_adapter import ShippoGateway
from providers.stripe_adapter import StripeGateway
from stores.business_state import read_business_state
from stores.db import connect_redis, make_engine, make_sessionmaker
from stores.reservations import Reservations
from stores.stock_changes import StockAnnouncer
from stores.stock_gate import StockGate
from temporal.client import connect
from temporal.feeds import start_feed_run
from temporal.telemetry import SdkMetrics, loopback_port, sdk_runtime
from temporal.worker import activity_methods, make_worker
from workflows.registry import WORKFLOWS

log = logging.getLogger("fulfillment.worker")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    redis = connect_redis(settings.redis_url)
    gate = StockGate(redis)
    gateway = StripeGateway.connect(
        settings.stripe_api_key, settings.stripe_api_base, settings.stripe_timeout_seconds
    )
    # Vendors' webhooks reach public addresses only (domain/outbound_urls.py); http in dev.
    webhooks = WebhookSender(
        OutboundPolicy(allow_http=settings.is_dev, allowed_hosts=settings.webhook_allowed_hosts)
    )
    shippo = ShippoGateway.connect(
        settings.shippo_api_key, settings.shippo_api_base, settings.shippo_timeout_seconds
    )
    # The Shippo SDK is synchronous: its calls run on these threads, off the event loop.
    shipping_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shippo")
    # The SDK's exporter must be configured before the client exists (temporal/telemetry.py).
    exporter = loopback_port() if settings.worker_metrics_port else None
    tracing = start_tracing(settings.traces, "worker")
    client = await connect(
        settings.temporal_address,
        settings.temporal_namespace,
        sdk_runtime(exporter) if exporter else None,
        traced=tracing is not None,
    )
    stop_metrics = serve_metrics(settings, sessions, exporter)
    weights = RoutingWeights(
        distance=settings.routing_distance_weight,
        speed=settings.routing_speed_weight,
        cost=settings.routing_cost_weight,
        split_penalty=settings.routing_split_penalty,
    )
    announcer = StockAnnouncer(redis, gate)
    events = RedisEventPublisher(redis)
    activities = activity_methods(
        InventoryActivities(sessions, announcer, weights),
        OrderStoreActivities(sessions, events),
        PaymentActivities(sessions, gateway),
        RefundActivities(sessions, gateway),
        NotificationActivities(sessions, webhooks),
        ReturnActivities(sessions, events),
        ShippingActivities(sessions, shippo, shipping_threads),
        SupplierActivities(sessions, announcer, events),
        StockFeedActivities(sessions, announcer),
    )
    worker = make_worker(client, settings.task_queue, WORKFLOWS, activities)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
    reaper = asyncio.create_task(
        reap(
            Reservations(sessions, announcer),
            sessions,
            gate,
            settings.reaper_interval.total_seconds(),
            stop,
        )
    )
    # Stock feeds kept whose run's start was lost.
    feeds = asyncio.create_task(
        sweep_feeds(
            sessions,
            partial(
                start_feed_run,
                client,
                settings.task_queue,
                batch_size=settings.feed_batch_size,
                parallel=settings.feed_parallel_batches,
            ),
            settings.feed_start_grace,
            stop,
        )
    )
    # Order events to the platform's endpoints, through the same guarded sender.
    outbox = asyncio.create_task(
        PlatformOutbox(sessions, webhooks, outbox_settings(settings)).run(stop)
    )
    try:
        async with worker:
            await stop.wait()
        await reaper
        await feeds
        await outbox
    finally:
        # Shut everything down before the interpreter exits (DESIGN.md: exit-time crashes).
        stop_metrics()
        await gateway.aclose()
        await webhooks.aclose()
        shipping_threads.shutdown(wait=False, cancel_futures=True)
        shippo.close()
        await redis.aclose()
        await engine.dispose()
        if tracing is not None:
            tracing.shutdown()


def outbox_settings(settings: Settings) -> OutboxSettings:
    return OutboxSettings(
        poll_every=settings.platform_events_poll_interval,
        commit_lag=settings.platform_events_commit_lag,
        retry=RetryPolicy(
            first_wait=settings.platform_webhook_first_retry,
            longest_wait=settings.platform_webhook_longest_retry,
            give_up_after=settings.platform_webhook_give_up_after,
        ),
        disable=DisablePolicy(
            consecutive_failures=settings.platform_webhook_disable_failures,
            failing_for=settings.platform_webhook_disable_after,
        ),
        timeout_seconds=settings.platform_webhook_timeout_seconds,
    )


def serve_metrics(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], exporter: int | None
) -> Callable[[], None]:
    """Serve `GET /metrics` (FULFILLMENT_WORKER_METRICS_PORT, 0: not at all); returns what
    stops it. A port already taken is logged, not fatal: orders matter more than graphs."""
    if not settings.worker_metrics_port or exporter is None:
        return lambda: None
    collectors = [
        StateCollector(partial(read_business_state, sessions), asyncio.get_running_loop()),
        SdkMetrics(exporter),
    ]
    for collector in collectors:
        REGISTRY.register(collector)
    try:
        server, _ = start_http_server(
            settings.worker_metrics_port, settings.worker_metrics_host, REGISTRY
        )
    except OSError as error:
        log.error(
            "no /metrics: could not listen on %s:%d: %s",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            error,
        )
        server = None
    else:
        log.info(
            "metrics on http://%s:%d/metrics",
            settings.worker_metrics_host,
            settings.worker_metrics_port,
        )

    def stop() -> None:
        if server is not None:
            server.shutdown()
            server.server_close()
        for collector in collectors:
            REGISTRY.unregister(collector)

    return stop


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format_in_use, settings.log_level)
    # uvloop: the same asyncio, a faster loop (the worker spends much of its CPU in it).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_worker(settings))


if __name__ == "__main__":
    main()
