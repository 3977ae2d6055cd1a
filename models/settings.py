"""Settings read from the environment (API.md, "Settings the checks rely on").

Every external service comes from its variable when set; the embedded dev stack fills the
variables for the processes it starts. Outside dev, default bootstrap keys refuse to start.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.durations import parse_duration
from domain.outbound_urls import parse_allowed_hosts
from models.messages.timing import TimingPolicy

DEV_PLATFORM_KEY = "dev-platform-key"
DEV_OPS_KEY = "dev-ops-key"
DEV_WEBHOOK_SECRET = "whsec_dev_fulfillment"
DEV_SHIPPO_TOKEN = "dev-shippo-webhook-token"


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


# FULFILLMENT_TRACES's values (models/tracing.py acts on them): these, or file:PATH.
TRACES_OFF, TRACES_CONSOLE, TRACES_OTLP, TRACES_FILE = "off", "console", "otlp", "file:"


def _traces(value: str) -> str:
    named = ("", TRACES_OFF, TRACES_CONSOLE, TRACES_OTLP)
    if value in named or (value.startswith(TRACES_FILE) and value.removeprefix(TRACES_FILE)):
        return value
    raise ValueError(f"must be {TRACES_OFF}, {TRACES_CONSOLE}, {TRACES_OTLP} or {TRACES_FILE}PATH")


def _log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"not a log level: {value!r} (DEBUG, INFO, WARNING, ERROR)")
    return level


# Bootstrap API keys outside dev: at least this long.
MIN_KEY_LENGTH = 32


def _keys(listed: str) -> tuple[str, ...]:
    """The keys of a comma-separated list (spaces around them ignored)."""
    return tuple(key for part in listed.split(",") if (key := part.strip()))


# The environments where the dev stack may exist: development defaults are accepted, and the
# `fulfillment` commands may read a running dev stack's file (devstack/stack_file.py).
DEV_ENVS = ("dev", "test")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    env: str = Field(default="dev", alias="FULFILLMENT_ENV")
    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/fulfillment", alias="DATABASE_URL"
    )
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    # Where operators open a workflow (the links `fulfillment order show` prints); the dev
    # stack serves its Web UI here.
    temporal_ui_url: str = Field(
        default="http://127.0.0.1:8233", alias="FULFILLMENT_TEMPORAL_UI_URL"
    )
    task_queue: str = Field(default="fulfillment", alias="FULFILLMENT_TASK_QUEUE")
    # Stock feeds (docs/stock-feeds.md): the largest body POST /v1/inventory/feeds takes (far
    # above an ordinary request's: 100,000 rows of CSV are about 5 MB), rows per activity, and
    # activities at once.
    feed_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1, alias="FULFILLMENT_FEED_MAX_BYTES")
    feed_batch_size: int = Field(default=1000, ge=1, le=10_000, alias="FULFILLMENT_FEED_BATCH_SIZE")
    # A feed kept but still queued this long had its run's start lost (the API died between
    # the two): the worker starts it (jobs/feed_sweeper.py).
    feed_start_grace: Duration = Field(
        default=timedelta(minutes=1), alias="FULFILLMENT_FEED_START_GRACE"
    )
    feed_parallel_batches: int = Field(
        default=4, ge=1, le=32, alias="FULFILLMENT_FEED_PARALLEL_BATCHES"
    )
    stripe_api_key: str = Field(default="sk_test_fulfillment_dev", alias="STRIPE_API_KEY")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    stripe_webhook_secret: str = Field(default=DEV_WEBHOOK_SECRET, alias="STRIPE_WEBHOOK_SECRET")
    # A call to Stripe that has not answered by then is retried (with the same key).
    stripe_timeout_seconds: float = Field(default=10.0, gt=0, alias="STRIPE_TIMEOUT_SECONDS")
    shippo_api_key: str = Field(default="shippo_test_fulfillment_dev", alias="SHIPPO_API_KEY")
    shippo_api_base: str | None = Field(default=None, alias="SHIPPO_API_BASE")
    # Shippo does not sign webhooks: the URL it calls carries this secret token.
    shippo_webhook_token: str = Field(default=DEV_SHIPPO_TOKEN, alias="SHIPPO_WEBHOOK_TOKEN")
    shippo_timeout_seconds: float = Field(default=10.0, gt=0, alias="SHIPPO_TIMEOUT_SECONDS")
    # Exact host:port pairs (comma separated) a vendor's webhook may reach although their
    # address is loopback or private: a developer's local receiver (domain/outbound_urls.py).
    webhook_allowed_hosts: Annotated[
        frozenset[str], NoDecode, BeforeValidator(parse_allowed_hosts)
    ] = Field(default=frozenset(), alias="FULFILLMENT_WEBHOOK_ALLOWED_HOSTS")
    # Bootstrap keys. Each may list several keys, comma separated, all valid at once: how a
    # key is rotated (add the new one, move the callers, remove the old; docs/api-protection.md).
    platform_key: str = Field(default=DEV_PLATFORM_KEY, alias="FULFILLMENT_PLATFORM_KEY")
    ops_key: str = Field(default=DEV_OPS_KEY, alias="FULFILLMENT_OPS_KEY")
    # Requests each API key may make per window (a token bucket: that many at once, refilled
    # evenly over the window; api/rate_limit.py), by the key's role; requests without a key
    # are counted per client address. Webhooks, /healthz and /metrics are not counted.
    rate_limit_window: Duration = Field(
        default=timedelta(seconds=60), alias="FULFILLMENT_RATE_LIMIT_WINDOW"
    )
    rate_limit_platform: int = Field(default=30_000, ge=1, alias="FULFILLMENT_RATE_LIMIT_PLATFORM")
    rate_limit_ops: int = Field(default=3_000, ge=1, alias="FULFILLMENT_RATE_LIMIT_OPS")
    rate_limit_vendor: int = Field(default=1_200, ge=1, alias="FULFILLMENT_RATE_LIMIT_VENDOR")
    rate_limit_anonymous: int = Field(default=120, ge=1, alias="FULFILLMENT_RATE_LIMIT_ANONYMOUS")
    # The largest request body any route takes (413 `payload_too_large` above it).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, alias="FULFILLMENT_MAX_BODY_BYTES")
    api_port: int = Field(default=8000, alias="FULFILLMENT_API_PORT")
    # API processes behind the one port (uvicorn workers): each its own event loop, pools and
    # Temporal client. docs/production.md says how to size it (issue 10).
    api_workers: int = Field(default=1, ge=1, le=64, alias="FULFILLMENT_API_WORKERS")
    # How long the API keeps an idle client connection open. uvicorn's own default (5 s) is
    # shorter than what clients and load balancers keep theirs (60 s on most): a request sent
    # on a connection the server is closing that very moment is lost with a transport error
    # (a 502 behind a balancer). Longer than the balancer's idle timeout, the balancer closes
    # first, which is safe. Found by the long simulation (seed 800).
    api_keep_alive: Duration = Field(
        default=timedelta(seconds=75), alias="FULFILLMENT_API_KEEP_ALIVE"
    )
    # Log lines (models/logs.py): readable text in the dev stack (`make run`), one JSON object
    # per line anywhere else, for a log store to search; FULFILLMENT_LOG_FORMAT chooses.
    log_format: Literal["json", "text"] | None = Field(default=None, alias="FULFILLMENT_LOG_FORMAT")
    log_level: Annotated[str, BeforeValidator(_log_level)] = Field(
        default="INFO", alias="FULFILLMENT_LOG_LEVEL"
    )

    # Where traces go (models/tracing.py): off, console, otlp (OTEL_EXPORTER_OTLP_* say where;
    # chosen by itself when OTEL_EXPORTER_OTLP_ENDPOINT is set) or file:PATH (JSON lines; the
    # dev stack's default, .data/traces.jsonl). Empty: otlp if configured, else off.
    traces: Annotated[str, AfterValidator(_traces)] = Field(default="", alias="FULFILLMENT_TRACES")

    # The worker's Prometheus endpoint (`GET /metrics`: business state and counters, and the
    # Temporal SDK's own metrics). 0 turns it off. Loopback by default, as the API's own
    # defaults are: set the host to 0.0.0.0 in a container that Prometheus scrapes from
    # outside. Each worker process on one machine needs its own port.
    worker_metrics_port: int = Field(
        default=9464, ge=0, le=65535, alias="FULFILLMENT_WORKER_METRICS_PORT"
    )
    worker_metrics_host: str = Field(default="127.0.0.1", alias="FULFILLMENT_WORKER_METRICS_HOST")
    return_window: Duration = Field(default=timedelta(days=14), alias="FULFILLMENT_RETURN_WINDOW")
    auto_cancel_after: Duration = Field(
        default=timedelta(days=2), alias="FULFILLMENT_AUTO_CANCEL_AFTER"
    )
    delivery_overdue_after: Duration = Field(
        default=timedelta(days=10), alias="FULFILLMENT_DELIVERY_OVERDUE_AFTER"
    )
    # A return not received this long after the return window ended expires: the vendor's
    # payout, held while it was open, goes ahead.
    return_expires_after: Duration = Field(
        default=timedelta(days=14), alias="FULFILLMENT_RETURN_EXPIRES_AFTER"
    )
    # After a refused payout (no or restricted account), the first wait before trying again;
    # later waits grow (domain.payout.next_payout_wait).
    payout_retry_after: Duration = Field(
        default=timedelta(minutes=1), alias="FULFILLMENT_PAYOUT_RETRY_AFTER"
    )
    # Stock stays held this long unless the order's workflow renews it (it renews at half).
    reservation_hold: Duration = Field(
        default=timedelta(hours=1), alias="FULFILLMENT_RESERVATION_HOLD"
    )
    # How often the worker releases holds whose workflow stopped renewing them.
    reaper_interval: Duration = Field(
        default=timedelta(seconds=30), alias="FULFILLMENT_REAPER_INTERVAL"
    )
    # Order events to the platform's endpoints (docs/platform-events.md). How often the
    # worker's outbox loop looks for new events and due deliveries.
    platform_events_poll_interval: Duration = Field(
        default=timedelta(seconds=1), alias="FULFILLMENT_PLATFORM_EVENTS_POLL_INTERVAL"
    )
    # Longer than any transaction that writes an order event: ids are handed out before
    # commit, so an event with a lower id may appear this long after a higher one.
    platform_events_commit_lag: Duration = Field(
        default=timedelta(seconds=30), alias="FULFILLMENT_PLATFORM_EVENTS_COMMIT_LAG"
    )
    # A failed delivery waits this long, then twice as long each time, at most the longest
    # wait, and is given up (status `failed`) once it has failed for `give_up_after`.
    platform_webhook_first_retry: Duration = Field(
        default=timedelta(seconds=30), alias="FULFILLMENT_PLATFORM_WEBHOOK_FIRST_RETRY"
    )
    platform_webhook_longest_retry: Duration = Field(
        default=timedelta(hours=6), alias="FULFILLMENT_PLATFORM_WEBHOOK_LONGEST_RETRY"
    )
    platform_webhook_give_up_after: Duration = Field(
        default=timedelta(days=3), alias="FULFILLMENT_PLATFORM_WEBHOOK_GIVE_UP_AFTER"
    )
    # An endpoint is disabled after this many failures in a row spread over at least this long.
    platform_webhook_disable_failures: int = Field(
        default=10, ge=1, alias="FULFILLMENT_PLATFORM_WEBHOOK_DISABLE_FAILURES"
    )
    platform_webhook_disable_after: Duration = Field(
        default=timedelta(days=1), alias="FULFILLMENT_PLATFORM_WEBHOOK_DISABLE_AFTER"
    )
    platform_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, alias="FULFILLMENT_PLATFORM_WEBHOOK_TIMEOUT_SECONDS"
    )
    # Routing (domain.routing): what a warehouse's score weighs per km, per hour of its
    # measured shipping time, per cent of estimated postage, and per extra parcel.
    routing_distance_weight: float = Field(default=1.0, ge=0, alias="FULFILLMENT_ROUTING_DISTANCE")
    routing_speed_weight: float = Field(default=2.0, ge=0, alias="FULFILLMENT_ROUTING_SPEED")
    routing_cost_weight: float = Field(default=1.0, ge=0, alias="FULFILLMENT_ROUTING_COST")
    routing_split_penalty: float = Field(
        default=500.0, ge=0, alias="FULFILLMENT_ROUTING_SPLIT_PENALTY"
    )
    default_commission_bps: int = Field(
        default=1000, ge=0, le=10_000, alias="FULFILLMENT_COMMISSION_BPS"
    )
    # How long checkout waits for the saga to confirm or reject before answering 504. Chosen
    # from the flash sale (bench/README.md): 100 sagas begun within one second on one 2-core
    # machine all confirmed within 28.9 to 35.3 s; 45 s leaves a margin and stays under the
    # 60 s idle timeout of common load balancers.
    checkout_timeout: Duration = Field(
        default=timedelta(seconds=45), alias="FULFILLMENT_CHECKOUT_TIMEOUT"
    )
    # How long the first answer to a mutating request sent with an Idempotency-Key is kept
    # and given again to retries with that key (api/idempotency.py).
    idempotency_retention: Duration = Field(
        default=timedelta(hours=24), alias="FULFILLMENT_IDEMPOTENCY_RETENTION"
    )

    @property
    def platform_keys(self) -> tuple[str, ...]:
        return _keys(self.platform_key)

    @property
    def ops_keys(self) -> tuple[str, ...]:
        return _keys(self.ops_key)

    @property
    def is_dev(self) -> bool:
        return self.env in DEV_ENVS

    @property
    def log_format_in_use(self) -> str:
        return self.log_format or ("text" if self.env == "dev" else "json")

    def timing_policy(self) -> TimingPolicy:
        """The timings an order placed now runs with, for its whole life."""
        return TimingPolicy(
            return_window_seconds=self.return_window.total_seconds(),
            payout_retry_seconds=self.payout_retry_after.total_seconds(),
            hold_seconds=self.reservation_hold.total_seconds(),
            auto_cancel_seconds=self.auto_cancel_after.total_seconds(),
            delivery_overdue_seconds=self.delivery_overdue_after.total_seconds(),
            return_expires_seconds=self.return_expires_after.total_seconds(),
        )

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_dev(self) -> Settings:
        if self.is_dev:
            return self
        weak = [
            name
            for name, values, default in (
                ("FULFILLMENT_PLATFORM_KEY", self.platform_keys, DEV_PLATFORM_KEY),
                ("FULFILLMENT_OPS_KEY", self.ops_keys, DEV_OPS_KEY),
                ("STRIPE_WEBHOOK_SECRET", (self.stripe_webhook_secret,), DEV_WEBHOOK_SECRET),
                ("SHIPPO_WEBHOOK_TOKEN", (self.shippo_webhook_token,), DEV_SHIPPO_TOKEN),
            )
            if not all(values) or not values or default in values
        ]
        if weak:
            raise ValueError(
                f"refusing to start with default or empty secrets outside dev: {', '.join(weak)}"
            )
        # The bootstrap keys also derive the keys that seal their idempotent answers
        # (api/sealed_answers.py): a short one could be guessed offline from a backup.
        short = [
            name
            for name, values in (
                ("FULFILLMENT_PLATFORM_KEY", self.platform_keys),
                ("FULFILLMENT_OPS_KEY", self.ops_keys),
            )
            if any(len(value) < MIN_KEY_LENGTH for value in values)
        ]
        if short:
            raise ValueError(
                f"refusing to start with keys shorter than {MIN_KEY_LENGTH} characters outside "
                f"dev: {', '.join(short)} (make one with `openssl rand -hex 32`)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
