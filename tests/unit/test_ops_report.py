"""How long a vendor order has waited for a person, as `fulfillment orders stuck` prints it, and
how a disabled platform endpoint is shown beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.ops_report import disabled_as_json, shown_url, waited, workflow_url
from stores.ops_views import DisabledEndpoint

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_wait_reads_in_its_two_largest_units() -> None:
    assert waited(NOW - timedelta(days=2, hours=3, minutes=5), NOW) == "2d 3h"
    assert waited(NOW - timedelta(hours=1, seconds=9), NOW) == "1h 0m"
    assert waited(NOW - timedelta(seconds=42), NOW) == "42s"


def test_a_wait_that_has_not_begun_is_zero_not_negative() -> None:
    assert waited(NOW + timedelta(seconds=3), NOW) == "0s"


def test_a_workflow_link_escapes_what_a_url_path_cannot_carry() -> None:
    assert (
        workflow_url("http://ui:8233/", "prod ns", "order-ord_1-vendor-v/1")
        == "http://ui:8233/namespaces/prod%20ns/workflows/order-ord_1-vendor-v%2F1"
    )


def test_an_endpoints_url_is_shown_without_the_query_that_may_hold_its_token() -> None:
    assert shown_url("https://shop.example/hooks?token=s3cret#x") == "https://shop.example/hooks?…"
    assert shown_url("https://shop.example:8443/hooks") == "https://shop.example:8443/hooks"


def test_a_disabled_endpoint_reads_with_its_url_since_last_error_and_waiting_deliveries() -> None:
    row = DisabledEndpoint(
        "we_1", "https://shop.example/h?k=1", NOW - timedelta(hours=2), "HTTP 500", waiting=3
    )

    assert disabled_as_json([row], NOW) == [
        {
            "endpoint_id": "we_1",
            "url": "https://shop.example/h?…",
            "disabled_since": "2026-12-03T10:00:00+00:00",
            "disabled_seconds": 7200,
            "last_error": "HTTP 500",
            "deliveries_waiting": 3,
        }
    ]
