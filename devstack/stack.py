"""The embedded dev stack behind `make run` (and the end-to-end tests).

Each service comes from its environment variable when set (DATABASE_URL, REDIS_URL,
TEMPORAL_ADDRESS, STRIPE_API_BASE/STRIPE_API_KEY, SHIPPO_API_BASE/SHIPPO_API_KEY) and is started
embedded (from its wheel, or our own emulator) otherwise. Data lives under one folder and
survives a restart. Services stop in reverse order.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from devstack import (
    ManagedProcess,
    ServerStartError,
    free_port,
    stack_file,
    start_postgres,
    start_redis,
    start_temporal,
    stop_last_first,
    wait_until,
)
from devstack.emulators import start_emulator
from migrations import upgrade
from models.settings import (
    DEV_OPS_KEY,
    DEV_PLATFORM_KEY,
    DEV_SHIPPO_TOKEN,
    DEV_WEBHOOK_SECRET,
)
from models.tracing import OTLP_VARIABLES
from temporal.search_attributes import DEV_SERVER_TYPES

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Ports:
    api: int = 8000
    temporal: int = 7233
    temporal_ui: int | None = 8233
    stripe: int = 12111
    shippo: int = 12112
    postgres: int = 55432
    redis: int = 56379
    # The first worker's /metrics (FULFILLMENT_WORKER_METRICS_PORT); further workers have none.
    worker_metrics: int = 9464

    @classmethod
    def free(cls) -> Ports:
        """Free ports for everything and no Web UI: a stack beside any other (the tests)."""
        return cls(
            api=free_port(),
            temporal=free_port(),
            temporal_ui=None,
            stripe=free_port(),
            shippo=free_port(),
            postgres=free_port(),
            redis=free_port(),
            worker_metrics=free_port(),
        )


@dataclass
class DevStack:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    # Settings for the API and worker (FULFILLMENT_RETURN_WINDOW, ...), over os.environ.
    overrides: Mapping[str, str] = field(default_factory=dict)
    # Worker processes polling the task queue (benchmarks start a second one, issue 10).
    worker_processes: int = 1
    env: dict[str, str] = field(default_factory=dict)
    _stops: list[tuple[str, Callable[[], object]]] = field(default_factory=list)
    _apps: list[ManagedProcess] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def worker_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.worker_metrics}/metrics"

    def start(self, log: Callable[[str], None] = print) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _forget_dead_stack(self.data_dir)
        source = {**os.environ, **self.overrides}
        env = dict(source)
        env.setdefault("FULFILLMENT_ENV", "dev")
        env.setdefault("FULFILLMENT_PLATFORM_KEY", DEV_PLATFORM_KEY)
        env.setdefault("FULFILLMENT_OPS_KEY", DEV_OPS_KEY)
        env.setdefault("STRIPE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
        env.setdefault("SHIPPO_WEBHOOK_TOKEN", DEV_SHIPPO_TOKEN)
        # Traces readable with no collector (models/tracing.py); an OTLP endpoint wins.
        if not any(source.get(name) for name in OTLP_VARIABLES):
            env.setdefault("FULFILLMENT_TRACES", f"file:{self.data_dir / 'traces.jsonl'}")
        env["FULFILLMENT_API_PORT"] = str(self.ports.api)
        env["FULFILLMENT_WORKER_METRICS_PORT"] = str(self.ports.worker_metrics)
        # The API and worker look for this stack's file, never another folder's.
        env[stack_file.DATA_DIR_VARIABLE] = str(self.data_dir)
        try:
            if "DATABASE_URL" not in source:
                log(f"starting PostgreSQL on 127.0.0.1:{self.ports.postgres}")
                pg = start_postgres(self.data_dir / "postgres", self.ports.postgres)
                self._stops.append(("PostgreSQL", pg.stop))
                env["DATABASE_URL"] = pg.url()
            if "REDIS_URL" not in source:
                log(f"starting Redis on 127.0.0.1:{self.ports.redis}")
                redis = start_redis(self.data_dir / "redis", self.ports.redis)
                self._stops.append(("Redis", redis.stop))
                env["REDIS_URL"] = redis.url()
            if "TEMPORAL_ADDRESS" not in source:
                log(f"starting Temporal on 127.0.0.1:{self.ports.temporal}")
                temporal = start_temporal(
                    self.data_dir / "temporal",
                    self.ports.temporal,
                    self.ports.temporal_ui,
                    DEV_SERVER_TYPES,
                )
                self._stops.append(("Temporal", temporal.stop))
                env["TEMPORAL_ADDRESS"] = temporal.address
            if "STRIPE_API_BASE" not in source and "STRIPE_API_KEY" not in source:
                log(f"starting the Stripe emulator on 127.0.0.1:{self.ports.stripe}")
                self._start_stripe_emulator(env)
            if "SHIPPO_API_BASE" not in source and "SHIPPO_API_KEY" not in source:
                log(f"starting the Shippo emulator on 127.0.0.1:{self.ports.shippo}")
                self._start_shippo_emulator(env)
            log("migrating the database")
            upgrade(env["DATABASE_URL"])
            self.env = env
            log(f"starting the worker and the API on 127.0.0.1:{self.ports.api}")
            for n in range(self.worker_processes):
                # One port, one process: the others serve no /metrics (port 0).
                own = env if n == 0 else {**env, "FULFILLMENT_WORKER_METRICS_PORT": "0"}
                self._apps.append(self._spawn(_worker_name(n), ["worker"], own))
            self._apps.append(self._spawn("api", ["api", "--port", str(self.ports.api)], env))
            wait_until(self._api_healthy, timeout=60, what="the API's /healthz")
            self._write_stack_file()
        except BaseException:
            self.stop(log)
            raise

    def _write_stack_file(self) -> None:
        """Tell the `fulfillment` commands where this stack is (devstack/stack_file.py):
        only what the stack chose itself (servers it started, dev keys, its overrides), never
        a variable the developer set, which may hold a real secret."""
        chosen = {
            name: self.env[name]
            for group in stack_file.GROUPS
            for name in group
            if name in self.env and name not in os.environ
        }
        stack_file.write(
            self.data_dir,
            stack_file.StackFile(
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                pid=os.getpid(),
                api_url=self.api_url,
                variables=chosen,
            ),
        )

    def _start_stripe_emulator(self, env: dict[str, str]) -> None:
        port = self.ports.stripe
        process = start_emulator(
            "emulators.stripe",
            port,
            self.data_dir / "stripe" / "state.json",
            self.data_dir / "logs" / "stripe-emulator.log",
            # Webhooks go to the API, signed with the secret it verifies them with.
            [
                "--webhook-url",
                f"{self.api_url}/v1/webhooks/stripe",
                "--webhook-secret",
                env["STRIPE_WEBHOOK_SECRET"],
            ],
        )
        self._stops.append(("Stripe emulator", process.stop))
        env["STRIPE_API_BASE"] = f"http://127.0.0.1:{port}"
        env["STRIPE_API_KEY"] = "sk_test_fulfillment_dev"

    def _start_shippo_emulator(self, env: dict[str, str]) -> None:
        port = self.ports.shippo
        token = quote(env["SHIPPO_WEBHOOK_TOKEN"], safe="")
        process = start_emulator(
            "emulators.shippo",
            port,
            self.data_dir / "shippo" / "state.json",
            self.data_dir / "logs" / "shippo-emulator.log",
            # Shippo signs nothing: the API knows its webhooks by the token in the URL.
            ["--webhook-url", f"{self.api_url}/v1/webhooks/shippo?token={token}"],
        )
        self._stops.append(("Shippo emulator", process.stop))
        env["SHIPPO_API_BASE"] = f"http://127.0.0.1:{port}"
        env["SHIPPO_API_KEY"] = "shippo_test_fulfillment_dev"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> ManagedProcess:
        process = ManagedProcess.start(
            name,
            [sys.executable, "-m", "cli", *args],
            self.data_dir / "logs" / f"{name}.log",
            env=env,
            cwd=ROOT,
        )
        self._stops.append((name, process.stop))
        return process

    def _api_healthy(self) -> bool:
        for app in self._apps:
            if not app.is_running():
                raise ServerStartError(f"{app.name} exited:\n{app.log_tail()}")
        return _answers(f"{self.api_url}/healthz")

    def dead_app(self) -> ManagedProcess | None:
        return next((app for app in self._apps if not app.is_running()), None)

    def stop(self, log: Callable[[str], None] = print) -> None:
        # First, so no command is sent to a stack on its way down.
        stack_file.remove(self.data_dir, os.getpid())
        stop_last_first(self._stops, log)
        self._apps.clear()

    def restart_worker(self, sig: int = signal.SIGKILL) -> ManagedProcess:
        """Stop the worker with `sig` (by default a crash: no clean shutdown) and start a new
        one with the same settings; the old one is gone before the new one polls."""
        return self._restart("worker", ["worker"], sig)

    def restart_api(self) -> ManagedProcess:
        """A clean stop of the API and a new one on its port and settings, once it answers."""
        new = self._restart("api", ["api", "--port", str(self.ports.api)], signal.SIGTERM)
        wait_until(self._api_healthy, timeout=60, what="the API's /healthz")
        return new

    def _restart(self, name: str, args: list[str], sig: int) -> ManagedProcess:
        old = next(app for app in self._apps if app.name == name)
        old.stop(sig=sig)
        self._stops = [(n, stop) for n, stop in self._stops if stop != old.stop]
        new = self._spawn(name, args, self.env)
        self._apps[self._apps.index(old)] = new
        return new


def _worker_name(n: int) -> str:
    return "worker" if n == 0 else f"worker-{n + 1}"


def _forget_dead_stack(data_dir: Path) -> None:
    """A file left by a stack that crashed would only mislead; one of a live stack stays."""
    try:
        found = stack_file.read(data_dir)
    except stack_file.DevStackNotRunning:
        found = None
    else:
        if found is not None and found.why_not_running() is None:
            return
    stack_file.path_in(data_dir).unlink(missing_ok=True)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _banner(stack: DevStack) -> str:
    env = stack.env
    ui = stack.ports.temporal_ui
    worker_metrics = stack.worker_metrics_url if stack.ports.worker_metrics else "(off)"
    return f"""
Fulfillment dev stack is up. Ctrl-C stops all of it.
  API              {stack.api_url}   (docs: {stack.api_url}/docs)
  Metrics          {stack.api_url}/metrics   worker: {worker_metrics}
  Temporal Web UI  {f"http://127.0.0.1:{ui}" if ui else "(headless)"}
  Temporal         {env["TEMPORAL_ADDRESS"]}
  PostgreSQL       {env["DATABASE_URL"]}
  Redis            {env["REDIS_URL"]}
  Stripe API       {env.get("STRIPE_API_BASE", "https://api.stripe.com")}
  Shippo API       {env.get("SHIPPO_API_BASE", "https://api.goshippo.com")}
  Keys             platform: {env["FULFILLMENT_PLATFORM_KEY"]}   ops: {env["FULFILLMENT_OPS_KEY"]}
  Return window    {env.get("FULFILLMENT_RETURN_WINDOW", "P14D")}
  Data             {stack.data_dir.resolve()}   logs: {stack.data_dir.resolve() / "logs"}
  Commands         .venv/bin/fulfillment reconcile (and migrate, worker) find this stack
                   through {stack_file.path_in(stack.data_dir)}
"""


def run_dev_stack(data_dir: str) -> int:
    port = int(os.environ.get("FULFILLMENT_API_PORT", "8000"))
    metrics = int(os.environ.get("FULFILLMENT_WORKER_METRICS_PORT", "9464"))
    stack = DevStack(Path(data_dir), Ports(api=port, worker_metrics=metrics))
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
    except ServerStartError as error:
        print(f"the dev stack did not start: {error}", file=sys.stderr)
        return 1
    print(_banner(stack), flush=True)
    code = 0
    while not stopping.is_set():
        dead = stack.dead_app()
        if dead is not None:
            print(f"{dead.name} exited; stopping the stack\n{dead.log_tail()}", file=sys.stderr)
            code = 1
            break
        time.sleep(0.5)
    stack.stop()
    return code
