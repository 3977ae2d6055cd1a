"""Examples in the OpenAPI document: a checkout, the order it answers, a vendor order before and
after shipping, a vendor's onboarding, and one problem per code.
tests/unit/test_openapi_contract.py validates each against its schema, so an example cannot
drift from the shapes it shows."""

from __future__ import annotations

import copy
from typing import Any

from domain.errors import ErrorCode as E

CHECKOUT: dict[str, Any] = {
    "customer_id": "cus_42",
    "currency": "usd",
    "lines": [{"sku": "BRAKE-01", "quantity": 2}, {"sku": "TYRE-700", "quantity": 1}],
    "shipping_address": {
        "name": "Ada Lovelace",
        "line1": "1 Main St",
        "city": "New York",
        "postal_code": "10001",
        "country": "US",
        "latitude": 40.7,
        "longitude": -74.0,
    },
    "payment_method": "pm_card_visa",
}

VENDOR_ORDER: dict[str, Any] = {
    "id": "vo_7Hq2",
    "order_id": "ord_9f1c",
    "vendor_id": "ven_b4k",
    "status": "awaiting_shipment",
    "currency": "usd",
    "lines": [
        {"sku": "BRAKE-01", "warehouse_id": "wh_nyc", "quantity": 2, "unit_price_cents": 2500}
    ],
    "subtotal_cents": 5000,
    "shipping_cents": 700,
    "commission_cents": 500,
    "refunded_cents": 0,
    "label_cost_cents": 0,
    "label_bought_cents": 0,
    "payout_cents": 5200,
    "payout_status": "pending",
    "carrier": None,
    "tracking_number": None,
    "label_url": None,
    "shipped_at": None,
    "delivered_at": None,
    "return_window_ends_at": None,
    "attention": None,
    "workflow_id": "order-ord_9f1c-vendor-ven_b4k",
    "ack_due_at": None,
    "accepted_at": None,
    "supplier_order_ref": None,
}

SHIPPED: dict[str, Any] = {
    **VENDOR_ORDER,
    "status": "shipped",
    "carrier": "ups",
    "tracking_number": "1Z999AA10123456784",
    "shipped_at": "2026-12-03T15:04:05Z",
}

ORDER: dict[str, Any] = {
    "id": "ord_9f1c",
    "status": "confirmed",
    "customer_id": "cus_42",
    "currency": "usd",
    "subtotal_cents": 5000,
    "shipping_cents": 700,
    "total_cents": 5700,
    "refunded_cents": 0,
    "created_at": "2026-12-03T15:00:00Z",
    "workflow_id": "order-ord_9f1c",
    "lines": [
        {
            "sku": "BRAKE-01",
            "vendor_id": "ven_b4k",
            "quantity": 2,
            "unit_price_cents": 2500,
            "line_total_cents": 5000,
        }
    ],
    "vendor_orders": [VENDOR_ORDER],
    "events": [{"type": "order.confirmed", "at": "2026-12-03T15:00:00Z"}],
    "returns": [],
}

SHIP: dict[str, Any] = {"carrier": "ups", "tracking_number": "1Z999AA10123456784"}

# No webhook_url here: a tool that sends examples (schemathesis' examples phase) must not
# make the platform call an outside address.
ONBOARDING: dict[str, Any] = {
    "name": "Brake Parts Co",
    "email": "orders@brakeparts.example",
    "commission_bps": 1000,
    "ship_sla": "PT72H",
}
ONBOARDED: dict[str, Any] = {
    **ONBOARDING,
    "id": "ven_b4k",
    "stripe_account_id": "acct_1QbXyZ",
    "max_transit_days": None,
    "webhook_url": None,
    "ack_sla": None,
    "on_reject": "cancel",
    "api_key": "vk_shown-once-in-this-answer-only-0123456789abcdef",
    "webhook_secret": None,
}

# A warehouse with the street address its labels leave from (docs/warehouse-addresses.md).
WAREHOUSE_IN: dict[str, Any] = {
    "name": "Newark dock",
    "postal_code": "07102",
    "country": "US",
    "latitude": 40.73,
    "longitude": -74.17,
    "address_line1": "1 Dock Road",
    "city": "Newark",
    "state": "NJ",
    "phone": "+1 973 555 0100",
}
WAREHOUSE: dict[str, Any] = {
    **WAREHOUSE_IN,
    "id": "wh_nyc",
    "vendor_id": "ven_b4k",
    "address_line2": None,
    "missing_for_labels": [],
}
WAREHOUSE_ADDRESS: dict[str, Any] = {"address_line1": "1 Dock Road", "address_line2": "Gate 4"}

# Request bodies, then answers, by (method, path) and status.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/orders"): CHECKOUT,
    ("POST", "/v1/vendor/orders/{vendor_order_id}/ship"): SHIP,
    ("POST", "/v1/vendors"): ONBOARDING,
    ("POST", "/v1/vendors/{vendor_id}/warehouses"): WAREHOUSE_IN,
    ("PATCH", "/v1/vendors/{vendor_id}/warehouses/{warehouse_id}"): WAREHOUSE_ADDRESS,
}
ANSWERS: dict[tuple[str, str, str], Any] = {
    ("POST", "/v1/orders", "201"): ORDER,
    ("GET", "/v1/orders/{order_id}", "200"): ORDER,
    ("GET", "/v1/vendor/orders", "200"): {
        "data": [VENDOR_ORDER],
        "has_more": False,
        "next_cursor": None,
    },
    ("GET", "/v1/vendor/orders/{vendor_order_id}", "200"): VENDOR_ORDER,
    ("POST", "/v1/vendor/orders/{vendor_order_id}/ship", "200"): SHIPPED,
    ("POST", "/v1/vendors", "201"): ONBOARDED,
    ("POST", "/v1/vendors/{vendor_id}/warehouses", "201"): WAREHOUSE,
    ("PATCH", "/v1/vendors/{vendor_id}/warehouses/{warehouse_id}", "200"): {
        **WAREHOUSE,
        **WAREHOUSE_ADDRESS,
    },
}

# code -> (detail, code-specific members) of the example problem.
_PROBLEMS: dict[E, tuple[str, dict[str, Any]]] = {
    E.BAD_REQUEST: ("the request could not be read", {}),
    E.UNAUTHORIZED: ("send an API key as 'Authorization: Bearer <key>'", {}),
    E.FORBIDDEN: ("this call is for the platform role(s)", {}),
    E.NOT_FOUND: ("no such order", {}),
    E.METHOD_NOT_ALLOWED: ("Method Not Allowed", {}),
    E.PAYLOAD_TOO_LARGE: (
        "the request body is larger than this route takes (1048576 bytes)",
        {"max_bytes": 1048576},
    ),
    E.VALIDATION_ERROR: (
        "the request is not valid",
        {
            "errors": [
                {
                    "loc": ["body", "lines", 0, "quantity"],
                    "msg": "Input should be greater than or equal to 1",
                    "type": "greater_than_equal",
                }
            ]
        },
    ),
    E.IDEMPOTENCY_KEY_REUSED: ("this Idempotency-Key was used for another order", {}),
    E.RATE_LIMITED: (
        "too many requests from this caller: 600 per 60 s; retry in 3 s",
        {"retry_after": 3, "limit": 600},
    ),
    E.INSUFFICIENT_STOCK: (
        "insufficient stock: BRAKE-01 (requested 2, available 1)",
        {"items": [{"sku": "BRAKE-01", "requested": 2, "available": 1}]},
    ),
    E.PAYMENT_DECLINED: (
        "Your card has insufficient funds.",
        {"decline_code": "insufficient_funds"},
    ),
    E.INVALID_STATE: ("vendor order is shipped", {"current_status": "shipped"}),
    E.LAST_API_KEY: ("the vendor's last live key cannot be revoked", {}),
    E.WAREHOUSE_ADDRESS_INCOMPLETE: (
        "warehouse wh_nyc has no complete postal address for a label (missing: address_line1,"
        " city, state); set it on the warehouse, or ship with your own carrier and tracking"
        " number",
        {"warehouse_id": "wh_nyc", "missing": ["address_line1", "city", "state"]},
    ),
    E.SECRET_ROTATION_IN_PROGRESS: (
        "the previous secret still signs deliveries until 2026-12-04T16:00:00Z: rotate again"
        " after it expired",
        {"previous_secret_expires_at": "2026-12-04T16:00:00Z"},
    ),
    E.VENDOR_UNAVAILABLE: (
        "not sold at the moment (vendor not active): BRAKE-01",
        {"skus": ["BRAKE-01"], "vendor_ids": ["ven_3f2a9c"]},
    ),
    E.UNSUPPORTED_MEDIA_TYPE: (
        "a stock feed is sent as one of text/csv, application/x-ndjson, not text/plain",
        {"accepted": ["text/csv", "application/x-ndjson"]},
    ),
    E.INVALID_SIGNATURE: ("webhook refused: No signatures found matching the payload", {}),
    E.PROVIDER_UNAVAILABLE: ("Stripe is not answering", {"provider_code": "api_error"}),
    E.PROVIDER_REJECTED: ("the provider refused the request", {"provider_code": "invalid"}),
    E.PAYOUT_FAILED: ("the connected account cannot be paid", {}),
    E.VENDOR_WEBHOOK_FAILED: ("the vendor's endpoint answered 500", {}),
    E.VENDOR_WEBHOOK_URL_INVALID: ("the webhook URL cannot be used", {}),
    E.VENDOR_WEBHOOK_URL_FORBIDDEN: ("the webhook URL points at a private address", {}),
    E.UNAVAILABLE: (
        "the database is not answering; retry in a few seconds",
        {"retry_after": 5},
    ),
    E.TIMEOUT: ("the order is still being processed; retry with the same Idempotency-Key", {}),
    E.INTERNAL_ERROR: ("an unexpected error occurred", {}),
}


# What each code means to a caller, in the document's response descriptions.
MEANING: dict[E, str] = {
    E.BAD_REQUEST: "the body could not be parsed at all",
    E.UNAUTHORIZED: "no API key, or not a valid one",
    E.FORBIDDEN: "this role may not make this call",
    E.NOT_FOUND: "no such resource (or not the caller's)",
    E.METHOD_NOT_ALLOWED: "not a method of this path",
    E.PAYLOAD_TOO_LARGE: "the body is over this route's limit",
    E.VALIDATION_ERROR: "the request is not valid; `errors` says where when it is its shape",
    E.IDEMPOTENCY_KEY_REUSED: "this Idempotency-Key was sent with another request",
    E.RATE_LIMITED: "over this key's budget: retry after Retry-After",
    E.INSUFFICIENT_STOCK: "not enough stock; `items` says which",
    E.PAYMENT_DECLINED: "the card was declined; `decline_code` says why",
    E.INVALID_STATE: "the resource's state forbids this change",
    E.LAST_API_KEY: "the vendor's last key cannot be revoked",
    E.WAREHOUSE_ADDRESS_INCOMPLETE: (
        "no label from a warehouse without a complete street address; `missing` names the"
        " fields to set (PATCH the warehouse), or ship with your own tracking number"
    ),
    E.SECRET_ROTATION_IN_PROGRESS: "the secret replaced by the last rotation is still live",
    E.VENDOR_UNAVAILABLE: "a line's vendor is pending or suspended; `skus` says which",
    E.UNSUPPORTED_MEDIA_TYPE: "the body is not of a type this route reads",
    E.INVALID_SIGNATURE: "the webhook's signature does not hold",
    E.PROVIDER_UNAVAILABLE: "Stripe or Shippo is not answering: retry",
    E.PROVIDER_REJECTED: "Stripe or Shippo refused the request",
    E.PAYOUT_FAILED: "the vendor's account could not be paid",
    E.VENDOR_WEBHOOK_FAILED: "the vendor's endpoint failed",
    E.VENDOR_WEBHOOK_URL_INVALID: "the vendor's webhook URL cannot be used",
    E.VENDOR_WEBHOOK_URL_FORBIDDEN: "the vendor's webhook URL may not be called",
    E.UNAVAILABLE: "a dependency is not answering: retry after Retry-After",
    E.TIMEOUT: "still at work: send the same request again",
    E.INTERNAL_ERROR: "a bug",
}


def problem(code: E, status: int) -> dict[str, Any]:
    detail, extra = _PROBLEMS[code]
    return {
        **copy.deepcopy(extra),
        "type": "about:blank",
        "title": str(code).replace("_", " "),
        "status": status,
        "code": str(code),
        "detail": detail,
    }


def add_to(operation: dict[str, Any], method: str, path: str) -> None:
    """The examples of this operation's request body and answers, where there are some."""
    body = REQUESTS.get((method, path))
    if body is not None:
        media = operation["requestBody"]["content"]["application/json"]
        media["examples"] = {"example": {"value": copy.deepcopy(body)}}
    for status, response in operation.get("responses", {}).items():
        answer = ANSWERS.get((method, path, status))
        if answer is not None:
            media = response["content"]["application/json"]
            media["examples"] = {"example": {"value": copy.deepcopy(answer)}}
