"""After the steps: drive every order to an end, the way people would (faults stop, accounts
are fixed, disputes close, vendors ship and deliver, returns arrive or expire, operators retry
failed payouts), then wait until nothing moves any more."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime

from temporalio.service import RPCError

from tests.simulation.model import FINISHED, SimOrder, SimVendorOrder
from tests.simulation.steps import cancel, close_dispute, deliver, faults, receive, restrict, ship
from tests.simulation.world import World

ENDED = frozenset({"completed", "cancelled", "rejected"})
DRAIN_SECONDS = 150.0
# A parcel the carrier delivered: the API waits a while for a shipment still being recorded,
# and the providers deliver again; after this the DELIVERED is taken as lost.
CARRIER_GRACE_SECONDS = 30.0
QUIET_SECONDS = 90.0


async def drive_to_ends(world: World, rng: random.Random) -> None:
    world.relay.policy.enabled = False  # events already held still go out
    for provider in ("stripe", "shippo"):
        await faults(world, provider, None)
    for vendor in world.vendors:
        if vendor.restricted:
            await restrict(world, vendor, False)
    for order in world.orders:
        if order.dispute is not None and order.dispute.status == "open":
            await close_dispute(world, order, rng.choice(("won", "lost")))
    await adopt_orders_the_model_missed(world)
    seen_shipped: dict[str, float] = {}
    plans: dict[str, str] = {}
    retried: dict[str, float] = {}
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        open_orders = [o for o in world.orders if o.status not in ENDED]
        if not open_orders:
            return
        await asyncio.gather(*(world.refresh(o) for o in open_orders if o.status != "placing"))
        for order in open_orders:
            if order.status in ("placing", "unknown") and not order.placed:
                # The checkout's answer never said: the database does (adopted above).
                order.status = "rejected"
                continue
            for vo in list(order.vendor_orders.values()):
                await _advance(world, rng, vo, seen_shipped, plans, retried)
        await asyncio.sleep(1.0)
    world.note("drain: out of time")


async def adopt_orders_the_model_missed(world: World) -> None:
    """Orders of this run that exist although no checkout answered 201 (a refused retry whose
    saga went on, say): they must end like any other."""
    rows = await world.sql(
        "SELECT id, status FROM orders WHERE customer_id LIKE :tag", tag=f"cus_{world.tag}_%"
    )
    for order_id, status in rows:
        order = world.order_by_id(order_id)
        if order is not None and not order.placed:
            view = await world.refresh(order)
            world.note(f"drain: {order.name} is {status} in the database ({view is not None})")


async def _advance(
    world: World,
    rng: random.Random,
    vo: SimVendorOrder,
    seen_shipped: dict[str, float],
    plans: dict[str, str],
    retried: dict[str, float],
) -> None:
    order = vo.order
    if vo.status == "awaiting_shipment":
        plan = plans.setdefault(vo.id, rng.choice(("ship", "ship", "cancel")))
        if plan == "cancel":
            await cancel(world, order)
        else:
            await ship(world, vo, "usps", f"DRAIN{world.tag}{vo.id[-8:]}", False, 0.0, False)
    elif vo.status == "shipped":
        since = seen_shipped.setdefault(vo.id, time.monotonic())
        if vo.carrier_delivered and time.monotonic() - since < CARRIER_GRACE_SECONDS:
            return  # the carrier said DELIVERED: the system must act on it by itself
        if vo.carrier_delivered:
            world.violate(
                "a_carrier_delivered_parcel_is_delivered",
                f"{vo.name} ({vo.carrier} {vo.tracking_number}) is still shipped "
                f"{CARRIER_GRACE_SECONDS:.0f}s after the carrier reported it DELIVERED",
                order.order_id,
            )
            vo.delivered_parcels.clear()
        await deliver(world, vo, "vendor", "", 0.0)
    elif vo.status == "delivered":
        for ret in list(vo.returns.values()):
            if ret.status != "requested":
                continue
            if plans.setdefault(ret.id, rng.choice(("receive", "receive", "expire"))) == "receive":
                await receive(world, vo, ret.id, rng.random() < 0.8)
        await _retry_failed_payout(world, vo, retried)


async def _retry_failed_payout(world: World, vo: SimVendorOrder, retried: dict[str, float]) -> None:
    """An operator who fixed a vendor's account tells the workflow to try at once (the
    `retry_payout` signal, from the Temporal UI or CLI)."""
    if time.monotonic() - retried.get(vo.id, 0.0) < 5.0:
        return
    rows = await world.sql(
        "SELECT attention, workflow_id FROM vendor_order WHERE id = :id", id=vo.id
    )
    if not rows or rows[0][0] != "payout_failed":
        return
    retried[vo.id] = time.monotonic()
    try:
        await world.temporal.get_workflow_handle(rows[0][1]).signal("retry_payout")
    except RPCError as error:
        world.note(f"retry_payout for {vo.name}: {error}")


async def settle(world: World, since: datetime) -> None:
    """Wait until no webhook is on its way and no workflow of this run is running."""
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        stripe_pending = await _pending(world, world.stripe_control)
        shippo_pending = await _pending(world, world.shippo_control)
        running = await running_workflows(world, since)
        if not stripe_pending and not shippo_pending and not world.relay.pending and not running:
            return
        await asyncio.sleep(1.0)
    running = await running_workflows(world, since)
    if running:
        world.violate(
            "no_workflow_is_left_running",
            f"{len(running)} still running {QUIET_SECONDS:.0f}s after the drain: {running[:10]}",
        )


async def _pending(world: World, control: object) -> int:
    answer = await control.get("/_emulator/webhooks", params={"status": "pending"})  # type: ignore[attr-defined]
    if answer.status_code != 200:
        return 0
    return len(answer.json().get("deliveries", []))


async def running_workflows(world: World, since: datetime) -> list[str]:
    query = f'ExecutionStatus = "Running" AND StartTime >= "{since.isoformat()}"'
    return [wf.id async for wf in world.temporal.list_workflows(query)]


def unfinished(order: SimOrder) -> list[str]:
    return [vo.name for vo in order.vendor_orders.values() if vo.status not in FINISHED]
