"""Does the Stripe emulator slow down as its state grows? (issue 10, item 5)

Starts two Stripe emulators as processes (``python -m providers.stripe_emulator``, as the dev
stack does), each with a state file in a temporary folder: one fresh, one whose state already
holds ``--preload`` paid PaymentIntents. The preload runs the emulator's own handler
(``payments.create_payment_intent``) in this process and keeps what it made through the
store's own persistence, so the second emulator loads it like a dev stack that has seen that
many orders. Then, one caller at a time, rounds alternate between the two emulators, each round
making the calls a paid order makes through ``StripeGateway`` (the official SDK, as the
worker does): a PaymentIntent created and confirmed, a transfer to a vendor, a refund.

Prints the latency of those calls against each emulator, the ratio, how long each took to
start, what its state files hold on disk afterwards, and the command that reproduces it.

    .venv/bin/python -m bench.emulator_state --preload 100000 --calls 200
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from bench import format_ratio, log, ratio, reproduce_command, summarize
from providers.stripe_adapter import StripeGateway
from providers.stripe_emulator import params as p
from providers.stripe_emulator import payments
from providers.stripe_emulator.state import Store
from temporal.embedded.process import ManagedProcess, free_port

API_KEY = "sk_test_bench_emulator_state"
CALLS = ("charge", "transfer", "refund")
AMOUNT_CENTS = 5000
# How many preloaded payments are kept in one go: each keep writes what changed since the last.
PRELOAD_BATCH = 1000
# Loading a large state is the one cost that grows with it; give it time on a busy machine.
START_TIMEOUT_SECONDS = 600.0


@dataclass
class Emulator:
    name: str
    state_file: Path
    objects: int
    process: ManagedProcess | None = None
    url: str = ""
    start_seconds: float = 0.0
    gateway: StripeGateway | None = None
    account: str = ""
    seconds: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})


def preload(state_file: Path, count: int) -> int:
    """``count`` paid PaymentIntents (each with its charge and events), made by the emulator's
    handler and kept in ``state_file``; returns how many objects the state then holds."""
    store = Store(state_file)
    form = "amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa"
    for number in range(1, count + 1):
        params = p.decode(f"{form}&transfer_group=bench_{number}&metadata[order]={number}")
        payments.create_payment_intent(store, params, ())
        if number % PRELOAD_BATCH == 0:
            store.save()
            log(f"preloaded {number} payments")
    store.close()
    return sum(len(objects) for objects in store.objects.values())


def start(emulator: Emulator, folder: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "providers.stripe_emulator", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--state-file", str(emulator.state_file)]
    began = time.perf_counter()
    emulator.process = ManagedProcess.start(
        f"stripe-emulator-{emulator.name}",
        command,
        folder / f"{emulator.name}.log",
        cwd=Path(__file__).resolve().parent.parent,
    )
    emulator.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if not emulator.process.is_running():
            raise RuntimeError(f"the emulator exited:\n{emulator.process.log_tail()}")
        try:
            if httpx.get(f"{emulator.url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the emulator did not start:\n{emulator.process.log_tail()}")
        time.sleep(0.05)
    emulator.start_seconds = time.perf_counter() - began


async def order(emulator: Emulator, timed: bool) -> None:
    """The calls of one paid order, each timed on its own."""
    gateway = emulator.gateway
    assert gateway is not None
    key = uuid.uuid4().hex
    began = time.perf_counter()
    charge = await gateway.charge(
        amount_cents=AMOUNT_CENTS,
        currency="usd",
        payment_method="pm_card_visa",
        transfer_group=f"order_{key}",
        metadata={"order_id": key},
        idempotency_key=f"charge-{key}",
    )
    charged = time.perf_counter()
    await gateway.transfer(
        amount_cents=AMOUNT_CENTS // 2,
        currency="usd",
        destination=emulator.account,
        transfer_group=f"order_{key}",
        source_transaction=charge.charge_id,
        metadata={"vendor_order_id": key},
        idempotency_key=f"transfer-{key}",
    )
    transferred = time.perf_counter()
    await gateway.refund(
        payment_intent_id=charge.payment_intent_id,
        amount_cents=AMOUNT_CENTS // 10,
        metadata={"order_id": key},
        idempotency_key=f"refund-{key}",
    )
    refunded = time.perf_counter()
    if timed:
        emulator.seconds["charge"].append(charged - began)
        emulator.seconds["transfer"].append(transferred - charged)
        emulator.seconds["refund"].append(refunded - transferred)


async def measure(emulators: list[Emulator], calls: int, warmup: int) -> None:
    for emulator in emulators:
        emulator.gateway = StripeGateway.connect(API_KEY, emulator.url)
        emulator.account = await emulator.gateway.create_connected_account(
            email="vendor@bench.test", idempotency_key=uuid.uuid4().hex, metadata={}
        )
    try:
        for _ in range(warmup):
            for emulator in emulators:
                await order(emulator, timed=False)
        # Interleaved, so both see the same machine (other jobs, disk) at about the same time.
        for _ in range(calls):
            for emulator in emulators:
                await order(emulator, timed=True)
    finally:
        for emulator in emulators:
            if emulator.gateway is not None:
                await emulator.gateway.aclose()


def disk_bytes(state_file: Path) -> int:
    """What the emulator keeps on disk: its state file and whatever sits beside it."""
    return sum(
        path.stat().st_size
        for path in state_file.parent.iterdir()
        if path.name.startswith(state_file.name)
    )


def rss_mb(process: ManagedProcess | None) -> float:
    """The process's resident memory now, from /proc (Linux)."""
    if process is None:
        return 0.0
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return 0.0
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kilobytes) / 1024


def report(emulators: list[Emulator], args: argparse.Namespace) -> None:
    fresh, loaded = emulators
    print(
        f"\nStripe emulator: {args.calls} orders per state (a PaymentIntent created and "
        f"confirmed, a transfer, a refund), one caller, rounds interleaved\n"
    )
    header = f"{'state':<28}{'objects':>10}{'start s':>9}{'calls':>7}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'disk MB':>10}{'RSS MB':>9}")
    rows: dict[str, tuple[float, float]] = {}
    for emulator in emulators:
        every = [s for call in CALLS for s in emulator.seconds[call]]
        summary = summarize(every)
        assert summary is not None
        rows[emulator.name] = (summary.p50, summary.p99)
        print(
            f"{emulator.name:<28}{emulator.objects:>10,}{emulator.start_seconds:>9.1f}"
            f"{summary.count:>7}{summary.p50 * 1000:>9.1f}{summary.p99 * 1000:>9.1f}"
            f"{disk_bytes(emulator.state_file) / 1e6:>10.1f}{rss_mb(emulator.process):>9.0f}"
        )
    p50 = format_ratio(ratio(rows[loaded.name][0], rows[fresh.name][0]))
    p99 = format_ratio(ratio(rows[loaded.name][1], rows[fresh.name][1]))
    print(f"{'preloaded / fresh':<54}{p50:>9}{p99:>9}\n")
    print(f"{'by call, p50 / p99 ms':<28}" + "".join(f"{e.name:>24}" for e in emulators))
    for call in CALLS:
        cells = ""
        for emulator in emulators:
            summary = summarize(emulator.seconds[call])
            assert summary is not None
            cell = f"{summary.p50 * 1000:.1f} / {summary.p99 * 1000:.1f}"
            cells += f"{cell:>24}"
        print(f"  {call:<26}{cells}")
    options = [("--preload", args.preload), ("--calls", args.calls), ("--warmup", args.warmup)]
    print(f"\nreproduce: {reproduce_command('bench.emulator_state', options)}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_state", description=__doc__)
    parser.add_argument(
        "--preload", type=int, default=100_000, help="paid PaymentIntents already in the state"
    )
    parser.add_argument("--calls", type=int, default=200, help="timed orders per emulator")
    parser.add_argument("--warmup", type=int, default=5, help="untimed orders per emulator first")
    parser.add_argument("--keep-data", action="store_true", help="keep the state files and logs")
    args = parser.parse_args(argv)
    if args.preload < 0 or args.calls < 1 or args.warmup < 0:
        parser.error("calls must be positive, preload and warmup not negative")
    return args


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    folder = Path(tempfile.mkdtemp(prefix="bench-emulator-state-"))
    emulators = [
        Emulator("fresh", folder / "fresh" / "state.json", 0),
        Emulator(f"after {args.preload:,} payments", folder / "loaded" / "state.json", 0),
    ]
    try:
        for emulator in emulators:
            emulator.state_file.parent.mkdir(parents=True)
        began = time.perf_counter()
        emulators[1].objects = preload(emulators[1].state_file, args.preload)
        log(f"preloaded {emulators[1].objects:,} objects in {time.perf_counter() - began:.1f} s")
        for emulator in emulators:
            start(emulator, folder)
            log(f"{emulator.name}: started in {emulator.start_seconds:.1f} s")
        asyncio.run(measure(emulators, args.calls, args.warmup))
        report(emulators, args)
        return 0
    finally:
        for emulator in emulators:
            if emulator.process is not None:
                emulator.process.stop(timeout=60)
        if args.keep_data:
            log(f"state files and logs are kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
