"""How long a vendor order has waited for a person, as `fulfillment orders stuck` prints it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.ops_report import waited, workflow_url

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
