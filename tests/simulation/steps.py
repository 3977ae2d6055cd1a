"""The steps of the simulation: what storefronts, vendor apps, operators, Stripe, Shippo and the
machines themselves do, each drawn at random from what the model says is possible.

Every random choice is made when the step is drawn (one `random.Random(seed)`, in order), so a
seed always draws the same steps with the same parameters; only timing (and so the answers)
may differ between two runs of a seed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from domain.ids import order_id_for_idempotency_key
from tests.simulation.model import (
    FINISHED,
    SimDispute,
    SimOrder,
    SimVendorOrder,
    Sku,
    Vendor,
)
from tests.simulation.world import OPS, PLATFORM, World

PARCEL = {"length_cm": 30, "width_cm": 20, "height_cm": 10, "weight_grams": 1200}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "New York",
    "postal_code": "10001",
    "country": "US",
    "latitude": 40.7,
    "longitude": -74.0,
}
FAULT_MODES = ("error_500", "rate_limit_429", "timeout_before", "timeout_after")


@dataclass
class Step:
    kind: str
    label: str
    run: Callable[[World], Awaitable[None]]


Drawer = Callable[[World, random.Random, int], Step | None]

# --- storefront --------------------------------------------------------------------------


def draw_checkout(world: World, rng: random.Random, n: int) -> Step | None:
    skus = [sku for vendor in world.vendors for sku in vendor.skus]
    picked = rng.sample(skus, k=min(len(skus), rng.choice((1, 1, 2, 2, 3))))
    lines = [{"sku": s.sku, "quantity": rng.choice((1, 1, 1, 2, 3))} for s in picked]
    method = "pm_card_visa_chargeDeclined" if rng.random() < 0.07 else "pm_card_visa"
    mode = rng.choices(("once", "again", "together"), weights=(65, 20, 15))[0]
    copies = 1 if mode == "once" else rng.choice((2, 2, 3))
    index = len(world.orders)
    key = f"{world.tag}-k{index}"
    body = {
        "customer_id": f"cus_{world.tag}_{index}",
        "currency": "usd",
        "lines": lines,
        "shipping_address": ADDRESS,
        "payment_method": method,
    }
    order = SimOrder(index, key, body, order_id_for_idempotency_key("platform", key))
    world.orders.append(order)
    shown = ",".join(f"{line['sku'][-6:]}x{line['quantity']}" for line in lines)
    label = f"checkout {order.name} [{shown}] {method[8:]} {mode}x{copies}"
    return Step("checkout", label, lambda w: checkout(w, order, mode, copies))


async def checkout(world: World, order: SimOrder, mode: str, copies: int) -> None:
    headers = {**PLATFORM, "Idempotency-Key": order.key}

    def send() -> Awaitable[httpx.Response]:
        return world.api.post("/v1/orders", json=order.body, headers=headers)

    async def one() -> httpx.Response:
        return await world.call(
            "checkout", send, expected=frozenset({201, 402, 409}), order_id=order.order_id
        )

    if mode == "together":
        answers = list(await asyncio.gather(*(one() for _ in range(copies))))
    else:
        answers = [await one() for _ in range(copies)]
    outcomes = sorted({_outcome(answer) for answer in answers})
    if len(outcomes) > 1:
        world.violate(
            "a_checkout_sent_again_with_its_key_gets_the_same_answer",
            f"{order.name} ({mode} x{copies}) answered {outcomes}",
            order.order_id,
        )
    placed = next((a for a in answers if a.status_code == 201), None)
    if placed is not None:
        world.counters.orders += 1
        world.learn_order(order, placed.json())
    elif all(a.status_code in (402, 409) for a in answers):
        world.counters.rejected += 1
        order.status = "rejected"
    else:
        order.status = "unknown"


def _outcome(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return f"{answer.status_code}"
    return f"{answer.status_code} {body.get('id') or body.get('code')}"


def draw_cancel(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [
        o
        for o in world.orders
        if o.placed
        and (
            any(vo.status == "awaiting_shipment" for vo in o.vendor_orders.values())
            or rng.random() < 0.1
        )
    ]
    if not candidates:
        return None
    order = rng.choice(candidates)
    return Step("cancel", f"cancel {order.name}", lambda w: cancel(w, order))


async def cancel(world: World, order: SimOrder) -> None:
    answer = await world.call(
        "cancel",
        lambda: world.api.post(
            f"/v1/orders/{order.order_id}/cancel", json={"reason": "changed mind"}, headers=PLATFORM
        ),
        expected=frozenset({200, 409}),
        order_id=order.order_id,
    )
    if answer.status_code == 200:
        world.learn_order(order, answer.json())
    else:
        await world.refresh(order)


def draw_return(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [vo for vo in world.vendor_orders() if vo.status == "delivered"]
    if not candidates:
        return None
    vo = rng.choice(candidates)
    sku = rng.choice(sorted(vo.lines))
    returned = sum(r.lines.get(sku, 0) for r in vo.returns.values())
    left = vo.lines[sku] - returned
    if left < 1:
        return None
    quantity = rng.randint(1, left)
    key = f"{world.tag}-r{n}"
    twice = rng.random() < 0.2
    label = f"return {vo.name} {sku[-6:]}x{quantity}{' twice' if twice else ''}"
    return Step("return", label, lambda w: open_return(w, vo, sku, quantity, key, twice))


async def open_return(
    world: World, vo: SimVendorOrder, sku: str, quantity: int, key: str, twice: bool
) -> None:
    order = vo.order
    body = {
        "vendor_order_id": vo.id,
        "lines": [{"sku": sku, "quantity": quantity}],
        "reason": "does not fit",
    }
    ids = set()
    for _ in range(2 if twice else 1):
        answer = await world.call(
            "return",
            lambda: world.api.post(
                f"/v1/orders/{order.order_id}/returns",
                json=body,
                headers={**PLATFORM, "Idempotency-Key": key},
            ),
            # 422 (field quantity): another return of these units was drawn while this one's
            # answer was on its way (lanes run at once); units_are_returned_at_most_once
            # checks the API never gives more units back than were sold.
            expected=frozenset({201, 409, 422}),
            order_id=order.order_id,
        )
        if answer.status_code == 422 and answer.json().get("field") != "quantity":
            world.violate(
                "every_request_gets_an_answer_the_contract_allows",
                f"return: 422 for something other than the units left: {answer.text[:300]}",
                order.order_id,
            )
        if answer.status_code == 201:
            ids.add(answer.json()["id"])
            world.learn_return(vo, answer.json())
    if len(ids) > 1:
        world.violate(
            "a_return_sent_again_with_its_key_is_the_same_return",
            f"{vo.name}: {sorted(ids)}",
            order.order_id,
        )


# --- vendor apps -------------------------------------------------------------------------


def draw_ship(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [vo for vo in world.vendor_orders() if vo.status == "awaiting_shipment"]
    if not candidates:
        return None
    vo = rng.choice(candidates)
    label_bought = rng.random() < 0.2
    carrier, tracking = "", ""
    if not label_bought:
        carrier, tracking = rng.choice(
            (
                ("shippo", f"SHIPPO_DELIVERED_{world.tag}{n}"),
                ("shippo", f"SHIPPO_TRANSIT_{world.tag}{n}"),
                ("usps", f"9400{world.tag}{n}"),
                ("usps", f"9400{world.tag}{n}"),
            )
        )
    early = not label_bought and rng.random() < 0.15
    early_after = rng.uniform(0.0, 0.4)
    double = rng.random() < 0.1
    what = "label" if label_bought else f"{carrier}:{tracking}"
    text = (
        f"ship {vo.name} {what}{' early-delivered' if early else ''}{' double' if double else ''}"
    )
    return Step(
        "ship",
        text,
        lambda w: ship(w, vo, carrier, tracking, early, early_after, double),
    )


async def ship(
    world: World,
    vo: SimVendorOrder,
    carrier: str,
    tracking: str,
    early: bool,
    early_after: float,
    double: bool,
) -> None:
    seller = vo.vendor.seller
    body: dict[str, Any] = (
        {"carrier": carrier, "tracking_number": tracking}
        if carrier
        else {"purchase_label": True, "parcel": PARCEL}
    )

    async def send() -> httpx.Response:
        return await world.call(
            "ship",
            lambda: world.api.post(
                f"/v1/vendor/orders/{vo.id}/ship", json=body, headers=seller.auth
            ),
            expected=frozenset({200, 409}),
            order_id=vo.order.order_id,
        )

    async def carrier_delivers_early() -> None:
        await asyncio.sleep(early_after)
        await move_parcel(world, vo, carrier, tracking, "DELIVERED")

    jobs: list[Awaitable[Any]] = [send()]
    if double:
        jobs.append(send())
    if early:
        jobs.append(carrier_delivers_early())
    answers = [a for a in await asyncio.gather(*jobs) if isinstance(a, httpx.Response)]
    shipped = next((a for a in answers if a.status_code == 200), None)
    if shipped is None:
        await world.refresh(vo.order)
        return
    world.learn_vendor_order(vo, shipped.json())
    vo.label = not carrier
    if tracking.startswith("SHIPPO_DELIVERED"):
        vo.delivered_parcels.add((carrier, tracking))  # the test carrier delivers it itself


def draw_deliver(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [vo for vo in world.vendor_orders() if vo.status == "shipped"]
    if not candidates:
        return None
    vo = rng.choice(candidates)
    how = rng.choices(
        ("vendor", "carrier", "carrier_twice", "carrier_out_of_order", "carrier_problem"),
        weights=(35, 30, 12, 13, 10),
    )[0]
    problem = rng.choice(("FAILURE", "RETURNED"))
    hold = rng.uniform(1.0, 3.0)
    return Step(
        "deliver", f"deliver {vo.name} by {how}", lambda w: deliver(w, vo, how, problem, hold)
    )


async def deliver(world: World, vo: SimVendorOrder, how: str, problem: str, hold: float) -> None:
    if vo.carrier is None or vo.tracking_number is None:
        await world.refresh(vo.order)
    carrier, tracking = vo.carrier, vo.tracking_number
    if how == "vendor" or carrier is None or tracking is None:
        answer = await world.call(
            "deliver",
            lambda: world.api.post(
                f"/v1/vendor/orders/{vo.id}/deliver", headers=vo.vendor.seller.auth
            ),
            expected=frozenset({200, 409}),
            order_id=vo.order.order_id,
        )
        if answer.status_code == 200:
            world.learn_vendor_order(vo, answer.json())
        return
    if how == "carrier_problem":
        await move_parcel(world, vo, carrier, tracking, problem)
        return
    if how == "carrier_out_of_order":
        # The carrier's earlier news (a failed attempt) reaches the API after DELIVERED.
        def late_problem(path: str, event: dict[str, Any]) -> bool:
            data = event.get("data") or {}
            status = (data.get("tracking_status") or {}).get("status")
            return bool(data.get("tracking_number") == tracking and status == "FAILURE")

        world.relay.policy.hold_next(late_problem, hold)
        await move_parcel(world, vo, carrier, tracking, "FAILURE")
    await move_parcel(world, vo, carrier, tracking, "DELIVERED")
    if how == "carrier_twice":
        answer = await world.shippo_control.post(
            "/_emulator/webhooks/resend", json={"carrier": carrier, "tracking_number": tracking}
        )
        world.counters.answered("shippo_resend", answer.status_code)


async def move_parcel(
    world: World, vo: SimVendorOrder, carrier: str, tracking: str, status: str
) -> None:
    answer = await world.shippo_control.post(
        f"/_emulator/tracks/{carrier}/{tracking}", json={"status": status}
    )
    world.counters.answered(f"carrier_{status}", answer.status_code)
    if answer.status_code != 200:
        world.violate("the_carrier_emulator_takes_a_move", f"{answer.status_code} {answer.text}")
    elif status == "DELIVERED":
        vo.delivered_parcels.add((carrier.lower(), tracking))
    else:
        # A move by hand takes over from the test carrier's script (a SHIPPO_DELIVERED number):
        # a parcel the script had not delivered yet never will be (seed 810 took it for
        # delivered and flagged the system for a delivery that never happened).
        history = answer.json().get("tracking_history") or []
        if not any(event.get("status") == "DELIVERED" for event in history):
            vo.delivered_parcels.discard((carrier.lower(), tracking))


def draw_receive(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [
        (vo, ret)
        for vo in world.vendor_orders()
        for ret in vo.returns.values()
        if ret.status == "requested"
    ]
    if not candidates:
        return None
    vo, ret = rng.choice(candidates)
    restock = rng.random() < 0.8
    label = f"receive {vo.name} {ret.id}{'' if restock else ' damaged'}"
    return Step("receive", label, lambda w: receive(w, vo, ret.id, restock))


async def receive(world: World, vo: SimVendorOrder, return_id: str, restock: bool) -> None:
    answer = await world.call(
        "receive",
        lambda: world.api.post(
            f"/v1/vendor/orders/{vo.id}/returns/{return_id}/receive",
            json={"restock": restock},
            headers=vo.vendor.seller.auth,
        ),
        expected=frozenset({200, 409}),
        order_id=vo.order.order_id,
    )
    if answer.status_code == 200:
        world.learn_return(vo, answer.json())
        if answer.json()["status"] == "refunded" and vo.returns[return_id].restock is None:
            vo.returns[return_id].restock = restock
    else:
        await world.refresh(vo.order)


# --- operators ---------------------------------------------------------------------------


def draw_ops_refund(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [vo for vo in world.vendor_orders() if vo.status != "cancelled"]
    if not candidates:
        return None
    vo = rng.choice(candidates)
    share = rng.uniform(0.05, 0.6)
    key = f"{world.tag}-ops{n}"
    copies = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
    label = f"ops-refund {vo.name} {share:.0%} x{copies}"
    return Step("ops_refund", label, lambda w: ops_refund(w, vo, share, key, copies))


async def ops_refund(world: World, vo: SimVendorOrder, share: float, key: str, copies: int) -> None:
    view = await world.refresh(vo.order)
    if view is None:
        return
    now = next(v for v in view["vendor_orders"] if v["id"] == vo.id)
    refundable = now["subtotal_cents"] + now["shipping_cents"] - now["refunded_cents"]
    if refundable < 1:
        return
    amount = max(1, int(refundable * share))

    async def send() -> httpx.Response:
        return await world.call(
            "ops_refund",
            lambda: world.api.post(
                f"/v1/ops/vendor-orders/{vo.id}/refunds",
                json={"amount_cents": amount, "reason": "requested_by_customer"},
                headers={**OPS, "Idempotency-Key": key},
            ),
            expected=frozenset({200, 409, 422}),
            order_id=vo.order.order_id,
        )

    answers = await asyncio.gather(*(send() for _ in range(copies)))
    for answer in answers:
        if answer.status_code == 422 and "refundable_cents" not in answer.text:
            world.violate(
                "every_request_gets_an_answer_the_contract_allows",
                f"ops refund of {amount} on {vo.name}: {answer.text[:300]}",
                vo.order.order_id,
            )
    refunded = {a.json()["refunded_cents"] for a in answers if a.status_code == 200}
    if len(refunded) > 1:
        world.violate(
            "an_ops_refund_sent_again_with_its_key_refunds_once",
            f"{vo.name}: answers show refunded_cents {sorted(refunded)}",
            vo.order.order_id,
        )


async def payment_intent_of(world: World, order: SimOrder) -> str | None:
    """The charge of an order, as a support agent finds it in the Stripe dashboard (searching
    by the order id; here read from the order's payment row, which is quicker)."""
    if order.payment_intent is None:
        rows = await world.sql(
            "SELECT payment_intent_id FROM payment WHERE order_id = :id", id=order.order_id
        )
        order.payment_intent = rows[0][0] if rows else None
    return order.payment_intent


def draw_dashboard_refund(world: World, rng: random.Random, n: int) -> Step | None:
    # Stripe refuses to refund a disputed charge: a support agent does not try.
    candidates = [o for o in world.orders if o.placed and o.dispute is None]
    if not candidates:
        return None
    order = rng.choice(candidates)
    named = rng.choice(sorted(order.vendor_orders)) if rng.random() < 0.5 else None
    share = rng.uniform(0.05, 0.5)
    key = f"{world.tag}-dash{n}"
    label = f"dashboard-refund {order.name} {share:.0%} {'named' if named else 'unnamed'}"
    return Step("dashboard_refund", label, lambda w: dashboard_refund(w, order, named, share, key))


async def dashboard_refund(
    world: World, order: SimOrder, named: str | None, share: float, key: str
) -> None:
    view = await world.refresh(order)
    intent = await payment_intent_of(world, order)
    if view is None or intent is None:
        return
    if named is None:
        owed = view["total_cents"] - view["refunded_cents"]
    else:
        vo = next(v for v in view["vendor_orders"] if v["id"] == named)
        owed = vo["subtotal_cents"] + vo["shipping_cents"] - vo["refunded_cents"]
    amount = int(owed * share)
    if amount < 1:
        return
    params: dict[str, Any] = {"payment_intent": intent, "amount": amount}
    if named is not None:
        params["metadata"] = {"vendor_order_id": named}
    for _ in range(60):
        try:
            await world.sdk.v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": key},
            )
            order.outside_refunded_cents += amount
            return
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError):
            await asyncio.sleep(1)
        except stripe.InvalidRequestError as error:
            # Someone refunded the rest in the meantime: Stripe says so.
            world.note(f"dashboard refund refused by Stripe: {error.user_message}")
            return
    world.violate("the_stripe_emulator_answers", f"refund {params} never went through")


# --- card networks (disputes) ------------------------------------------------------------


def draw_dispute_open(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [o for o in world.orders if o.placed and o.dispute is None]
    if not candidates:
        return None
    order = rng.choice(candidates)
    share = 1.0 if rng.random() < 0.5 else rng.uniform(0.1, 0.9)
    reorder = rng.random() < 0.35
    outcome = rng.choice(("won", "lost"))
    hold = rng.uniform(1.0, 3.0)
    how = f" then {outcome} out of order" if reorder else ""
    label = f"dispute {order.name} {share:.0%}{how}"
    return Step(
        "dispute",
        label,
        lambda w: open_dispute(w, order, share, outcome if reorder else None, hold),
    )


async def open_dispute(
    world: World, order: SimOrder, share: float, close_as: str | None, hold: float
) -> None:
    view = await world.refresh(order)
    intent = await payment_intent_of(world, order)
    if view is None or intent is None or order.dispute is not None:
        return
    amount = int((view["total_cents"] - view["refunded_cents"]) * share)
    if amount < 1:
        return
    if close_as is not None:
        # The bank's "opened" reaches the API after its "closed".
        def opened(path: str, event: dict[str, Any]) -> bool:
            obj = (event.get("data") or {}).get("object") or {}
            return bool(
                event.get("type") == "charge.dispute.created"
                and obj.get("payment_intent") == intent
            )

        world.relay.policy.hold_next(opened, hold)
    answer = await world.stripe_control.post(
        "/_emulator/disputes", json={"payment_intent": intent, "amount": amount}
    )
    world.counters.answered("dispute_open", answer.status_code)
    if answer.status_code != 200:
        world.note(f"dispute refused: {answer.status_code} {answer.text[:200]}")
        return
    order.dispute = SimDispute(answer.json()["id"], amount)
    if close_as is not None:
        await close_dispute(world, order, close_as)


def draw_dispute_close(world: World, rng: random.Random, n: int) -> Step | None:
    candidates = [o for o in world.orders if o.dispute is not None and o.dispute.status == "open"]
    if not candidates:
        return None
    order = rng.choice(candidates)
    outcome = rng.choice(("won", "lost"))
    return Step(
        "dispute_close",
        f"dispute {order.name} {outcome}",
        lambda w: close_dispute(w, order, outcome),
    )


async def close_dispute(world: World, order: SimOrder, outcome: str) -> None:
    dispute = order.dispute
    if dispute is None or dispute.status != "open":
        return
    answer = await world.stripe_control.post(
        f"/_emulator/disputes/{dispute.id}/close", json={"status": outcome}
    )
    world.counters.answered("dispute_close", answer.status_code)
    if answer.status_code == 200:
        dispute.status = outcome


# --- Stripe Connect accounts, provider faults, machines ----------------------------------


def draw_restrict(world: World, rng: random.Random, n: int) -> Step | None:
    free = [v for v in world.vendors if not v.restricted]
    if not free:
        return None
    vendor = rng.choice(free)
    return Step("restrict", f"restrict {vendor.name}", lambda w: restrict(w, vendor, True))


def draw_allow(world: World, rng: random.Random, n: int) -> Step | None:
    held = [v for v in world.vendors if v.restricted]
    if not held:
        return None
    vendor = rng.choice(held)
    return Step("allow", f"allow {vendor.name}", lambda w: restrict(w, vendor, False))


async def restrict(world: World, vendor: Vendor, restricted: bool) -> None:
    answer = await world.stripe_control.post(
        f"/_emulator/accounts/{vendor.seller.account}/restrict", json={"restricted": restricted}
    )
    if answer.status_code != 200:
        world.violate("the_stripe_emulator_answers", f"restrict: {answer.text}")
        return
    vendor.restricted = restricted


def draw_fault(world: World, rng: random.Random, n: int) -> Step | None:
    provider = rng.choice(("stripe", "stripe", "shippo"))
    plan = {
        "rate": round(rng.uniform(0.05, 0.2), 3),
        "modes": rng.sample(FAULT_MODES, k=rng.randint(1, 3)),
        "count": rng.randint(2, 8),
        # Longer than the stack's client timeouts (2 s): a hang is given up on, then retried.
        "timeout_seconds": 3,
        "seed": rng.randint(0, 1 << 30),
    }
    label = f"faults {provider} {plan['rate']} {'/'.join(plan['modes'])} count={plan['count']}"
    return Step("fault", label, lambda w: faults(w, provider, plan))


async def faults(world: World, provider: str, plan: dict[str, Any] | None) -> None:
    control = world.stripe_control if provider == "stripe" else world.shippo_control
    if plan is None:
        answer = await control.delete("/_emulator/faults")
    else:
        answer = await control.post("/_emulator/faults", json=plan)
    if answer.status_code != 200:
        world.violate("the_emulators_take_fault_plans", f"{provider}: {answer.text}")
    world.faults_on[provider] = plan is not None


def draw_fault_clear(world: World, rng: random.Random, n: int) -> Step | None:
    on = sorted(p for p, active in world.faults_on.items() if active)
    if not on:
        return None
    provider = rng.choice(on)
    return Step("fault_clear", f"faults {provider} off", lambda w: faults(w, provider, None))


def draw_restart(world: World, rng: random.Random, n: int) -> Step | None:
    return Step("restart_worker", "restart the worker (SIGKILL)", restart_worker)


async def restart_worker(world: World) -> None:
    async with world.restart_lock:
        process = await asyncio.to_thread(world.stack.restart_worker)
    world.note(f"worker restarted as pid {process.pid}")


def draw_restock(world: World, rng: random.Random, n: int) -> Step | None:
    skus = [sku for vendor in world.vendors for sku in vendor.skus]
    sku = rng.choice(skus)
    delta = rng.randint(3, 15)
    return Step("restock", f"restock {sku.sku[-6:]} +{delta}", lambda w: restock(w, sku, delta))


async def restock(world: World, sku: Sku, delta: int) -> None:
    """A delivery from the vendor's supplier: more units on hand (an audited adjustment)."""
    seller = sku.vendor.seller
    answer = await world.call(
        "restock",
        lambda: world.api.post(
            f"/v1/inventory/{sku.sku}/{seller.warehouse_id}/adjustments",
            json={"delta": delta, "reason": "delivery from supplier"},
            headers=seller.auth,
        ),
        expected=frozenset({200}),
    )
    if answer.status_code == 200:
        sku.added += delta


def draw_look(world: World, rng: random.Random, n: int) -> Step | None:
    placed = [o for o in world.orders if o.placed]
    if not placed:
        return None
    picked = rng.sample(placed, k=min(3, len(placed)))
    names = ",".join(o.name for o in picked)
    return Step("look", f"look {names}", lambda w: look(w, picked))


async def look(world: World, orders: list[SimOrder]) -> None:
    for order in orders:
        if order.status not in FINISHED:
            await world.refresh(order)


def draw_pause(world: World, rng: random.Random, n: int) -> Step | None:
    seconds = round(rng.uniform(0.3, 2.0), 2)
    return Step("pause", f"pause {seconds}s", lambda w: asyncio.sleep(seconds))


# kind: (weight, drawer)
CATALOG: dict[str, tuple[int, Drawer]] = {
    "checkout": (24, draw_checkout),
    "ship": (16, draw_ship),
    "deliver": (10, draw_deliver),
    "cancel": (5, draw_cancel),
    "return": (6, draw_return),
    "receive": (6, draw_receive),
    "ops_refund": (6, draw_ops_refund),
    "dashboard_refund": (5, draw_dashboard_refund),
    "dispute": (3, draw_dispute_open),
    "dispute_close": (3, draw_dispute_close),
    "restrict": (2, draw_restrict),
    "allow": (3, draw_allow),
    "fault": (2, draw_fault),
    "fault_clear": (3, draw_fault_clear),
    "restart_worker": (1, draw_restart),
    "restock": (4, draw_restock),
    "look": (5, draw_look),
    "pause": (3, draw_pause),
}


def draw(world: World, rng: random.Random, n: int, kinds: frozenset[str] | None) -> Step:
    """One step, drawn by weight among the kinds the model makes possible (a kind with nothing
    to act on is drawn again)."""
    names = [k for k in CATALOG if kinds is None or k in kinds]
    weights = [CATALOG[k][0] for k in names]
    for _ in range(50):
        kind = rng.choices(names, weights=weights)[0]
        step = CATALOG[kind][1](world, rng, n)
        if step is not None:
            return step
    return draw_pause(world, rng, n)  # type: ignore[return-value]
