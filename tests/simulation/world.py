"""The simulation's world: the stack it drives, its clients (the storefront's, the vendors',
the operators', Stripe's SDK, the emulators' controls), the actors and the model."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import stripe
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from devstack.stack import DevStack
from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY
from providers.stripe_adapter import StripeGateway
from tests.simulation.model import (
    Counters,
    SimOrder,
    SimReturn,
    SimVendorOrder,
    Vendor,
    Violation,
)
from tests.simulation.relay import Relay

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}
PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}
# What a client sends again, with the same key: "still in progress" and "try later".
RETRIED = frozenset({202, 429, 502, 503, 504})
RETRY_FOR_SECONDS = 120.0


@dataclass
class World:
    stack: DevStack
    relay: Relay
    seed: int
    tag: str  # marks this run's customers, SKUs and vendors
    api: httpx.AsyncClient
    stripe_control: httpx.AsyncClient
    shippo_control: httpx.AsyncClient
    sdk: stripe.StripeClient
    gateway: StripeGateway
    engine: AsyncEngine
    temporal: Client
    vendors: list[Vendor] = field(default_factory=list)
    orders: list[SimOrder] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    faults_on: dict[str, bool] = field(default_factory=lambda: {"stripe": False, "shippo": False})
    started_at: float = field(default_factory=time.time)
    rng: random.Random = field(default_factory=random.Random)
    # Two restarts drawn in one wave take turns: one machine, one worker at a time.
    restart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    log_path: Path | None = None

    def violate(self, rule: str, detail: str, order_id: str | None = None) -> None:
        found = Violation(rule, detail, order_id)
        self.violations.append(found)
        self.note(f"VIOLATION {found}")

    def note(self, line: str) -> None:
        entry = f"{time.time() - self.started_at:8.2f} {line}"
        self.log.append(entry)
        if self.log_path is not None:
            # As it happens, so a run still going can be followed (tail -f).
            with open(self.log_path, "a") as log:
                log.write(entry + "\n")

    async def call(
        self,
        what: str,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        expected: frozenset[int],
        order_id: str | None = None,
    ) -> httpx.Response:
        """Send, and send again (same request, same key) while the answer says to; an answer
        outside `expected` is a violation of the contract."""
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        while True:
            try:
                answer = await send()
            except httpx.TransportError as error:
                # A connection reset or a keep-alive race: a client sends it again, same key.
                self.counters.answered(what, 0)
                self.note(f"{what}: {type(error).__name__}, sent again")
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
                continue
            self.counters.answered(what, answer.status_code)
            if answer.status_code == 500:
                self.violate(
                    "no_request_is_answered_with_an_internal_error",
                    f"{what}: 500 {answer.text[:300]}",
                    order_id,
                )
            if answer.status_code in expected:
                return answer
            if answer.status_code not in RETRIED and answer.status_code != 500:
                self.violate(
                    "every_request_gets_an_answer_the_contract_allows",
                    f"{what}: {answer.status_code} {answer.text[:300]}",
                    order_id,
                )
                return answer
            if time.monotonic() > deadline:
                self.violate(
                    "a_retried_request_is_answered_in_the_end",
                    f"{what}: still {answer.status_code} after {RETRY_FOR_SECONDS:.0f}s: "
                    f"{answer.text[:300]}",
                    order_id,
                )
                return answer
            await asyncio.sleep(1.0)

    # --- the model follows the answers -----------------------------------------------------

    def order_by_id(self, order_id: str) -> SimOrder | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def learn_order(self, order: SimOrder, view: dict[str, Any]) -> None:
        """What an Order answer tells: statuses, vendor orders, returns."""
        order.status = view["status"]
        order.total_cents = view["total_cents"]
        by_vendor = {v.seller.id: v for v in self.vendors}
        for vo in view["vendor_orders"]:
            known = order.vendor_orders.get(vo["id"])
            if known is None:
                known = SimVendorOrder(
                    id=vo["id"],
                    order=order,
                    vendor=by_vendor[vo["vendor_id"]],
                    lines={},
                    subtotal_cents=vo["subtotal_cents"],
                    shipping_cents=vo["shipping_cents"],
                )
                for line in vo["lines"]:
                    known.lines[line["sku"]] = known.lines.get(line["sku"], 0) + line["quantity"]
                order.vendor_orders[vo["id"]] = known
            self.learn_vendor_order(known, vo)
        for ret in view.get("returns") or []:
            vo = order.vendor_orders.get(ret["vendor_order_id"])
            if vo is not None and ret["id"] in vo.returns:
                vo.returns[ret["id"]].status = ret["status"]

    @staticmethod
    def learn_vendor_order(known: SimVendorOrder, vo: dict[str, Any]) -> None:
        known.status = vo["status"]
        if vo.get("tracking_number"):
            known.carrier = vo["carrier"]
            known.tracking_number = vo["tracking_number"]

    def learn_return(self, vo: SimVendorOrder, view: dict[str, Any]) -> None:
        found = vo.returns.get(view["id"])
        if found is None:
            lines = {line["sku"]: line["quantity"] for line in view["lines"]}
            found = vo.returns[view["id"]] = SimReturn(view["id"], lines)
        found.status = view["status"]

    async def refresh(self, order: SimOrder) -> dict[str, Any] | None:
        path = f"/v1/orders/{order.order_id}"
        try:
            answer = await self.api.get(path, headers=PLATFORM)
        except httpx.TransportError as error:
            # A read is safe to send again, as any client would; an API that is down fails
            # the second time too.
            self.note(f"reading {order.name} again after {type(error).__name__}")
            answer = await self.api.get(path, headers=PLATFORM)
        if answer.status_code != 200:
            return None
        view: dict[str, Any] = answer.json()
        self.learn_order(order, view)
        return view

    async def sql(self, query: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list((await connection.execute(text(query), params)).all())

    # --- who is who --------------------------------------------------------------------------

    def vendor_of(self, vo: SimVendorOrder) -> Vendor:
        return vo.vendor

    def vendor_orders(self) -> list[SimVendorOrder]:
        return [vo for order in self.orders for vo in order.vendor_orders.values()]
