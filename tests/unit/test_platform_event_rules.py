"""Which order events the storefront hears of, what they say, and how failed deliveries wait
(domain/platform_events.py, domain/delivery_schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.delivery_schedule import (
    DisablePolicy,
    RetryPolicy,
    gives_up,
    retry_wait,
    should_disable,
)
from domain.platform_events import (
    PUBLIC_EVENT_TYPES,
    normal_subscription,
    payload,
    public_type,
    subscribes,
    tracking_url,
)

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RETRY = RetryPolicy(
    first_wait=timedelta(seconds=30),
    longest_wait=timedelta(hours=6),
    give_up_after=timedelta(days=3),
)


def test_every_event_the_issue_names_is_public() -> None:
    assert {
        "order.confirmed",
        "order.rejected",
        "vendor_order.shipped",
        "vendor_order.delivered",
        "vendor_order.cancelled",
        "return.requested",
        "return.refunded",
        "order.completed",
        "payout.released",
        "refund.succeeded",
    } <= PUBLIC_EVENT_TYPES


@pytest.mark.parametrize(
    "internal", ["order.placed", "vendor_order.created", "attention.ship_sla_breached"]
)
def test_events_only_operators_care_about_are_not_sent(internal: str) -> None:
    assert public_type(internal) is None


def test_a_shipment_carries_its_carrier_number_and_tracking_page() -> None:
    body = payload(
        41,
        "vendor_order.shipped",
        AT,
        "ord_1",
        "vo_1",
        {"carrier": "UPS", "tracking_number": "1Z999"},
    )
    assert body == {
        "id": "evt_41",
        "type": "vendor_order.shipped",
        "created_at": "2026-12-03T12:00:00+00:00",
        "data": {
            "order_id": "ord_1",
            "vendor_order_id": "vo_1",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999",
        },
    }


def test_an_unknown_carrier_is_tracked_on_shippos_page() -> None:
    assert tracking_url("acme", "X1") == "https://goshippo.com/tracking/acme/X1"


def test_the_detail_never_overwrites_the_orders_ids() -> None:
    body = payload(7, "order.confirmed", AT, "ord_1", None, {"order_id": "forged", "x": 1})
    assert body["data"] == {"order_id": "ord_1", "vendor_order_id": None, "x": 1}


def test_a_subscription_is_sorted_without_repeats_and_star_means_all() -> None:
    assert normal_subscription(["order.confirmed", "order.completed", "order.confirmed"]) == [
        "order.completed",
        "order.confirmed",
    ]
    assert normal_subscription(["*"]) == ["*"]
    assert subscribes(["*"], "payout.released")
    assert subscribes(["payout.released"], "payout.released")
    assert not subscribes(["order.confirmed"], "payout.released")


@pytest.mark.parametrize("chosen", [[], ["order.shipped"], ["*", "order.confirmed"]])
def test_an_unknown_or_empty_subscription_is_refused(chosen: list[str]) -> None:
    with pytest.raises(ValueError):
        normal_subscription(chosen)


def test_waits_double_from_the_first_up_to_the_longest() -> None:
    waits = [retry_wait(n, RETRY).total_seconds() for n in range(1, 12)]
    assert waits[:6] == [30, 60, 120, 240, 480, 960]
    assert waits[-1] == 6 * 3600
    assert waits == sorted(waits)


def test_a_thousand_failures_wait_the_longest_wait_not_an_overflow() -> None:
    assert retry_wait(1000, RETRY) == timedelta(hours=6)


def test_a_delivery_is_given_up_only_after_the_whole_span() -> None:
    assert not gives_up(AT, AT + timedelta(days=3) - timedelta(seconds=1), RETRY)
    assert gives_up(AT, AT + timedelta(days=3), RETRY)


def test_an_endpoint_is_disabled_only_after_many_failures_over_a_long_enough_time() -> None:
    rule = DisablePolicy(consecutive_failures=10, failing_for=timedelta(hours=24))
    day_later = AT + timedelta(hours=24)
    assert should_disable(10, AT, day_later, rule)
    # A burst of failures within minutes is not enough, nor a day with few attempts.
    assert not should_disable(50, AT, AT + timedelta(minutes=5), rule)
    assert not should_disable(9, AT, day_later, rule)
    assert not should_disable(10, None, day_later, rule)
