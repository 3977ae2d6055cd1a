"""What the API benchmarks sell from and buy with: one vendor over HTTP, like an integrator
would set it up, one buyer's checkout body, and one checkout placed and timed (`Placed`,
`checkout`). Shared by bench.flash_sale, bench.saga and bench.in_flight."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from domain.ids import order_id_for_idempotency_key
from models.settings import DEV_OPS_KEY, DEV_PLATFORM_KEY

REQUEST_TIMEOUT = 90.0

OPS = {"Authorization": f"Bearer {DEV_OPS_KEY}"}
PLATFORM = {"Authorization": f"Bearer {DEV_PLATFORM_KEY}"}
PRICE_CENTS = 2500


def checked(answer: httpx.Response, status: int, what: str) -> dict[str, Any]:
    """The answer's JSON, or a RuntimeError saying what failed: a setup step that fails
    makes the whole benchmark meaningless."""
    if answer.status_code != status:
        raise RuntimeError(f"{what}: HTTP {answer.status_code} {answer.text}")
    body: dict[str, Any] = answer.json()
    return body


async def set_up_seller(
    api: httpx.AsyncClient, name: str, *, products: int = 1, units: int
) -> tuple[str, list[str]]:
    """One vendor (no webhook URL, the default ship SLA), one warehouse, `products` products
    with `units` each: (the vendor's id, the SKUs)."""
    suffix = uuid.uuid4().hex[:8]
    slug = name.lower().replace(" ", "-")
    vendor = checked(
        await api.post(
            "/v1/vendors",
            json={"name": f"{name} {suffix}", "email": f"{slug}-{suffix}@example.com"},
            headers=OPS,
        ),
        201,
        "creating the vendor",
    )
    auth = {"Authorization": f"Bearer {vendor['api_key']}"}
    warehouse = checked(
        await api.post(
            f"/v1/vendors/{vendor['id']}/warehouses",
            json={
                "name": "Main",
                "postal_code": "10001",
                "country": "US",
                "latitude": 40.75,
                "longitude": -73.99,
            },
            headers=auth,
        ),
        201,
        "creating the warehouse",
    )
    skus = []
    for n in range(products):
        sku = f"{slug}-{suffix}" + (f"-{n}" if products > 1 else "")
        sku = sku.upper()
        checked(
            await api.post(
                "/v1/products",
                json={
                    "vendor_id": vendor["id"],
                    "sku": sku,
                    "title": f"{name} item {sku}",
                    "price_cents": PRICE_CENTS,
                    "currency": "usd",
                    "weight_grams": 500,
                    "price_tiers": [],
                },
                headers=auth,
            ),
            201,
            f"creating product {sku}",
        )
        checked(
            await api.put(
                f"/v1/inventory/{sku}/{warehouse['id']}", json={"on_hand": units}, headers=auth
            ),
            200,
            f"stocking {sku}",
        )
        skus.append(sku)
    return str(vendor["id"]), skus


def order_body(sku: str, buyer: str = "Bench") -> dict[str, Any]:
    """One unit of `sku` for a new customer, paid with a card that goes through."""
    return {
        "customer_id": f"cus_{buyer.lower()}_{uuid.uuid4().hex[:12]}",
        "currency": "usd",
        "lines": [{"sku": sku, "quantity": 1}],
        "shipping_address": {
            "name": f"{buyer} Buyer",
            "line1": "1 Main St",
            "city": "New York",
            "postal_code": "10001",
            "country": "US",
            "latitude": 40.7,
            "longitude": -74.0,
        },
        "payment_method": "pm_card_visa",
    }


@dataclass
class Placed:
    key: str  # Idempotency-Key of a real checkout; bench.saga's bare ones: the workflow id
    outcome: str = ""  # "ok" or what went wrong
    seconds: float = 0.0
    answered_at: float = 0.0  # epoch seconds, compared with the servers' event times
    order_id: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


async def checkout(api: httpx.AsyncClient, sku: str, placed: Placed, buyer: str) -> None:
    """`POST /v1/orders`, one unit, timed from send to answer; "ok" only for a confirmation."""
    started = time.perf_counter()
    try:
        answer = await api.post(
            "/v1/orders",
            json=order_body(sku, buyer),
            headers={**PLATFORM, "Idempotency-Key": placed.key},
        )
    except httpx.HTTPError as error:
        placed.seconds = time.perf_counter() - started
        placed.outcome = type(error).__name__
        return
    placed.seconds = time.perf_counter() - started
    placed.answered_at = time.time()
    body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
    if answer.status_code == 201 and body.get("status") == "confirmed":
        # The key names the order (domain.ids) if the answer ever stops carrying its id.
        order_id = body.get("id") or order_id_for_idempotency_key("platform", placed.key)
        placed.outcome, placed.order_id = "ok", str(order_id)
    else:
        reason = body.get("code") or body.get("status") or ""
        placed.outcome = f"HTTP {answer.status_code} {reason}".strip()
