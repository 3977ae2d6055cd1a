"""Does the Stripe emulator slow down as its state grows? (issue 10, item 5)

Starts two Stripe emulators as processes (``python -m emulators.stripe``, as the dev
stack does), each with a state file in a temporary folder: one fresh, one whose state already
holds ``--preload`` paid orders of other customers. Each of those is a paid PaymentIntent with
a transfer to a vendor and a partial refund; every fourth transfer is partly reversed and
every tenth charge disputed. The preload runs the emulator's own handlers in this process and
keeps what they made through the store's own persistence, so the second emulator loads it like
a dev stack that has seen that many orders. Then, one caller at a time, rounds alternate
between the two emulators, each round making the calls of one order through ``StripeGateway``
(the official SDK, as the worker does): a PaymentIntent created and confirmed, a transfer to a
vendor, a reversal of part of it, a refund, and the refunds of that PaymentIntent listed.

Prints the latency of those calls against each emulator, the ratio, how long each took to
start, what its state files hold on disk afterwards, and the command that reproduces it.

    .venv/bin/python -m bench.emulator_state --preload 100000 --calls 200

``--emulator-from DIR`` runs the emulator of another checkout (older code, say) on the same
preload, for a before/after comparison; the preload is always made by this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import format_ratio, log, ratio, reproduce_command, summarize
from bench.harness import Servers, scratch_folder, servers, stop_on_sigterm
from devstack.process import ManagedProcess, free_port
from emulators.stripe import connect, disputes, payments, refunds, reversals
from emulators.stripe import params as p
from emulators.stripe.state import Store
from providers.stripe_adapter import StripeGateway

API_KEY = "sk_test_bench_emulator_state"
CALLS = ("charge", "transfer", "reversal", "refund", "refund listing")
AMOUNT_CENTS = 5000
# How many preloaded orders are kept in one go: each keep writes what changed since the last.
PRELOAD_BATCH = 1000
# The preloaded orders pay these many vendors, and some are reversed or disputed.
PRELOAD_VENDORS = 10
REVERSED_EVERY = 4
DISPUTED_EVERY = 10
# Loading a large state is the one cost that grows with it; give it time on a busy machine.
START_TIMEOUT_SECONDS = 600.0


@dataclass
class Emulator:
    name: str
    state_file: Path
    objects: int
    # Objects by kind in the state it starts with.
    kinds: dict[str, int] = field(default_factory=dict)
    process: ManagedProcess | None = None
    url: str = ""
    start_seconds: float = 0.0
    gateway: StripeGateway | None = None
    account: str = ""
    seconds: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CALLS})


def preload(state_file: Path, count: int) -> dict[str, int]:
    """``count`` paid orders of other customers, made by the emulator's handlers and kept in
    ``state_file``: each a PaymentIntent and its charge, a transfer to a vendor and a refund;
    every fourth transfer partly reversed, every tenth charge disputed (the dispute lost, won
    or left open in turn). Returns how many objects of each kind the state then holds."""
    store = Store(state_file)

    def call(handler: Any, form: str, *ids: str) -> Any:
        return handler(store, p.decode(form), ids)

    vendors = [call(connect.create_account, "type=express")["id"] for _ in range(PRELOAD_VENDORS)]
    form = "amount=5000&currency=usd&confirm=true&payment_method=pm_card_visa"
    for number in range(1, count + 1):
        group = f"bench_{number}"
        intent = call(
            payments.create_payment_intent,
            f"{form}&transfer_group={group}&metadata[order]={number}",
        )
        charge = intent["latest_charge"]
        vendor = vendors[number % PRELOAD_VENDORS]
        transfer = call(
            connect.create_transfer,
            f"amount=2500&currency=usd&destination={vendor}&source_transaction={charge}"
            f"&transfer_group={group}",
        )
        call(refunds.create_refund, f"payment_intent={intent['id']}&amount=500")
        if number % REVERSED_EVERY == 0:
            call(reversals.create_reversal, "amount=500", transfer["id"])
        if number % DISPUTED_EVERY == 0:
            dispute = disputes.open_dispute(store, {"charge": charge, "amount": 1000})
            outcome = ("lost", "won", None)[number // DISPUTED_EVERY % 3]
            if outcome is not None:
                disputes.close_dispute(store, dispute["id"], {"status": outcome})
        if number % PRELOAD_BATCH == 0:
            store.save()
            log(f"preloaded {number} orders")
    store.close()
    return {kind: len(objects) for kind, objects in store.objects.items()}


def start(emulator: Emulator, folder: Path, checkout: Path, started: Servers) -> None:
    port = free_port()
    command = [sys.executable, "-m", "emulators.stripe", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--state-file", str(emulator.state_file)]
    began = time.perf_counter()
    # The checkout's own package comes first on the path (its folder is the working one); no
    # bytecode is written into it, which may be another's work tree.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    process = ManagedProcess.start(
        f"stripe-emulator-{emulator.name}",
        command,
        folder / f"{emulator.name}.log",
        env=env,
        cwd=checkout,
    )
    # Stopped even when it never answers below.
    started.add(f"the Stripe emulator ({emulator.name})", lambda: process.stop(timeout=60))
    emulator.process = process
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
    moments = [time.perf_counter()]
    charge = await gateway.charge(
        amount_cents=AMOUNT_CENTS,
        currency="usd",
        payment_method="pm_card_visa",
        transfer_group=f"order_{key}",
        metadata={"order_id": key},
        idempotency_key=f"charge-{key}",
    )
    moments.append(time.perf_counter())
    transfer = await gateway.transfer(
        amount_cents=AMOUNT_CENTS // 2,
        currency="usd",
        destination=emulator.account,
        transfer_group=f"order_{key}",
        source_transaction=charge.charge_id,
        metadata={"vendor_order_id": key},
        idempotency_key=f"transfer-{key}",
    )
    moments.append(time.perf_counter())
    await gateway.reverse_transfer(
        transfer_id=transfer.transfer_id,
        amount_cents=AMOUNT_CENTS // 10,
        metadata={"order_id": key},
        idempotency_key=f"reversal-{key}",
    )
    moments.append(time.perf_counter())
    await gateway.refund(
        payment_intent_id=charge.payment_intent_id,
        amount_cents=AMOUNT_CENTS // 10,
        metadata={"order_id": key},
        idempotency_key=f"refund-{key}",
    )
    moments.append(time.perf_counter())
    listed = await gateway.list_refunds(charge.payment_intent_id)
    moments.append(time.perf_counter())
    assert len(listed) == 1, "a refund listing must show that PaymentIntent's refunds only"
    if timed:
        for call, began, ended in zip(CALLS, moments[:-1], moments[1:], strict=True):
            emulator.seconds[call].append(ended - began)


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
        f"confirmed, a transfer, a reversal, a refund, that PaymentIntent's refunds listed), "
        f"one caller, rounds interleaved"
    )
    if args.emulator_from is not None:
        print(f"emulator run from {args.emulator_from}")
    held = ", ".join(f"{count:,} {kind}" for kind, count in loaded.kinds.items())
    print(f"preloaded state: {held}\n")
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
    print(f"{'by call, p50 / p99 ms':<28}" + "".join(f"{e.name:>26}" for e in emulators))
    for call in CALLS:
        cells = ""
        for emulator in emulators:
            summary = summarize(emulator.seconds[call])
            assert summary is not None
            cell = f"{summary.p50 * 1000:.1f} / {summary.p99 * 1000:.1f}"
            cells += f"{cell:>26}"
        print(f"  {call:<26}{cells}")
    options: list[tuple[str, object]] = [
        ("--preload", args.preload),
        ("--calls", args.calls),
        ("--warmup", args.warmup),
    ]
    if args.emulator_from is not None:
        options.append(("--emulator-from", args.emulator_from))
    print(f"\nreproduce: {reproduce_command('bench.emulator_state', options)}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_state", description=__doc__)
    parser.add_argument(
        "--preload", type=int, default=100_000, help="paid orders already in the state"
    )
    parser.add_argument("--calls", type=int, default=200, help="timed orders per emulator")
    parser.add_argument("--warmup", type=int, default=5, help="untimed orders per emulator first")
    parser.add_argument("--keep-data", action="store_true", help="keep the state files and logs")
    parser.add_argument(
        "--emulator-from",
        type=Path,
        default=None,
        help="run the emulator of this checkout (e.g. older code) instead of this one's",
    )
    args = parser.parse_args(argv)
    if args.preload < 0 or args.calls < 1 or args.warmup < 0:
        parser.error("calls must be positive, preload and warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stop_on_sigterm()
    with (
        scratch_folder(
            "bench-emulator-state-", keep=args.keep_data, kept="state files and logs are kept"
        ) as folder,
        servers() as started,
    ):
        emulators = [
            Emulator("fresh", folder / "fresh" / "state.json", 0),
            Emulator(f"after {args.preload:,} orders", folder / "loaded" / "state.json", 0),
        ]
        for emulator in emulators:
            emulator.state_file.parent.mkdir(parents=True)
        began = time.perf_counter()
        emulators[1].kinds = preload(emulators[1].state_file, args.preload)
        emulators[1].objects = sum(emulators[1].kinds.values())
        log(f"preloaded {emulators[1].objects:,} objects in {time.perf_counter() - began:.1f} s")
        checkout = args.emulator_from or Path(__file__).resolve().parent.parent
        for emulator in emulators:
            start(emulator, folder, checkout, started)
            log(f"{emulator.name}: started in {emulator.start_seconds:.1f} s")
        asyncio.run(measure(emulators, args.calls, args.warmup))
        report(emulators, args)
        return 0


if __name__ == "__main__":
    sys.exit(main())
