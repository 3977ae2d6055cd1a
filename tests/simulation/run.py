"""One run of the simulation: set up a few vendors, draw and run steps for a while, drive
every order to an end, check every rule."""

from __future__ import annotations

import asyncio
import json
import random
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import stripe

from devstack.stack import DevStack
from providers.stripe_adapter import StripeGateway
from stores.db import make_engine
from temporal.client import connect
from tests.e2e.client import onboard
from tests.simulation.config import SimConfig
from tests.simulation.drain import drive_to_ends, settle
from tests.simulation.invariants import check_all, gather_truth
from tests.simulation.model import Sku, Vendor, Violation
from tests.simulation.relay import Relay
from tests.simulation.steps import draw
from tests.simulation.world import World

# The emulators' controls are called now and then: a fresh connection each time, so an idle
# one closed by the server at that very moment never fails a step.
ONE_SHOT = httpx.Limits(max_keepalive_connections=0)


@dataclass
class RunReport:
    seed: int
    steps: int
    orders: int
    rejected: int
    violations: list[Violation]
    seconds: float
    log_path: str
    answers: dict[str, int] = field(default_factory=dict)
    concurrency: int = 1

    def replay_command(self) -> str:
        return (
            f"SIM_SEED={self.seed} SIM_STEPS={self.steps} SIM_CONCURRENCY={self.concurrency}"
            " .venv/bin/pytest tests/simulation -x -q"
        )


async def run_once(stack: DevStack, relay: Relay, config: SimConfig, seed: int) -> RunReport:
    rng = random.Random(seed)
    relay.policy.reseed(seed)
    tag = f"s{seed}x{random.Random().randrange(36**4):04x}"  # unique per run, even replayed
    engine = make_engine(stack.env["DATABASE_URL"], pool_size=4)
    gateway = StripeGateway.connect(stack.env["STRIPE_API_KEY"], stack.env["STRIPE_API_BASE"])
    sdk_http = stripe.HTTPXClient(timeout=10.0)
    temporal = await connect(stack.env["TEMPORAL_ADDRESS"])
    since = datetime.now(UTC) - timedelta(seconds=1)
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        httpx.AsyncClient(
            base_url=stack.env["STRIPE_API_BASE"],
            headers={"Authorization": f"Bearer {stack.env['STRIPE_API_KEY']}"},
            timeout=30,
            limits=ONE_SHOT,
        ) as stripe_control,
        httpx.AsyncClient(
            base_url=stack.env["SHIPPO_API_BASE"], timeout=30, limits=ONE_SHOT
        ) as shippo_control,
    ):
        world = World(
            stack=stack,
            relay=relay,
            seed=seed,
            tag=tag,
            api=api,
            stripe_control=stripe_control,
            shippo_control=shippo_control,
            sdk=stripe.StripeClient(
                stack.env["STRIPE_API_KEY"],
                base_addresses={"api": stack.env["STRIPE_API_BASE"]},
                http_client=sdk_http,
            ),
            gateway=gateway,
            engine=engine,
            temporal=temporal,
            rng=rng,
            log_path=log_file(config, tag),
        )
        try:
            await set_up(world, rng)
            await run_steps(world, rng, config)
            world.note("drain")
            await drive_to_ends(world, rng)
            await settle(world, since)
            truth = await gather_truth(world, since, rng)
            world.violations += check_all(truth)
        except Exception:
            # The harness itself broke: say so with the run's log, never lose the run.
            world.violate("the_simulation_runs_to_its_end", traceback.format_exc(limit=8))
        finally:
            await gateway.aclose()
            await sdk_http.close_async()
            await engine.dispose()
    log_path = write_log(world, config)
    return RunReport(
        seed=seed,
        steps=world.counters.steps,
        orders=world.counters.orders,
        rejected=world.counters.rejected,
        violations=world.violations,
        seconds=time.time() - world.started_at,
        log_path=log_path,
        answers=world.counters.answers,
        concurrency=config.concurrency,
    )


async def set_up(world: World, rng: random.Random) -> None:
    """A few vendors, each with a warehouse and a few SKUs; one ships on a tight SLA (its late
    orders are cancelled by the clock)."""
    for index in range(rng.randint(3, 4)):
        extra = {"ship_sla": rng.choice((8, 12))} if index == 0 else {}
        seller = await onboard(
            world.api,
            f"Sim{world.tag}V{index}",
            commission_bps=rng.choice((500, 1000, 1500)),
            **extra,
        )
        vendor = Vendor(index, seller)
        for n in range(rng.randint(2, 3)):
            sku = f"{world.tag}-V{index}-{n}".upper()
            price = rng.randint(300, 9000)
            on_hand = rng.randint(4, 30)
            created = await world.api.post(
                "/v1/products",
                json={
                    "vendor_id": seller.id,
                    "sku": sku,
                    "title": f"Item {sku}",
                    "price_cents": price,
                    "currency": "usd",
                    "weight_grams": rng.randint(100, 3000),
                    "price_tiers": [{"min_quantity": 3, "price_cents": price * 9 // 10}],
                },
                headers=seller.auth,
            )
            assert created.status_code == 201, created.text
            stocked = await world.api.put(
                f"/v1/inventory/{sku}/{seller.warehouse_id}",
                json={"on_hand": on_hand},
                headers=seller.auth,
            )
            assert stocked.status_code == 200, stocked.text
            vendor.skus.append(Sku(sku, vendor, price, on_hand))
        world.vendors.append(vendor)
    world.note(f"set up {len(world.vendors)} vendors as {world.tag}")


async def run_steps(world: World, rng: random.Random, config: SimConfig) -> None:
    """`concurrency` lanes, each drawing its next step (from the one seeded generator, in
    turn) as soon as its last one is done. With SIM_CONCURRENCY=1 a seed replays step by step."""
    deadline = time.monotonic() + config.run_seconds

    def more() -> bool:
        if config.max_steps is not None:
            return world.counters.steps < config.max_steps
        return time.monotonic() < deadline

    async def lane() -> None:
        while more():
            step = draw(world, rng, world.counters.steps, config.kinds)
            world.counters.steps += 1
            world.counters.by_kind[step.kind] = world.counters.by_kind.get(step.kind, 0) + 1
            world.note(f"step {world.counters.steps}: {step.label}")
            try:
                await step.run(world)
            except Exception as error:
                world.violate(
                    "every_step_completes",
                    f"{step.label} raised {type(error).__name__}: {error}",
                )

    await asyncio.gather(*(lane() for _ in range(config.concurrency)))


def log_file(config: SimConfig, tag: str) -> Path:
    folder = Path(config.log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"sim-{tag}.log"


def write_log(world: World, config: SimConfig) -> str:
    """The answers' tally at the end of the log written as the run went."""
    path = world.log_path or log_file(config, world.tag)
    with open(path, "a") as log:
        log.write("\n" + json.dumps(world.counters.answers, sort_keys=True) + "\n")
    return str(path)
