"""The sentences operators read in the Temporal UI (domain/progress.py): amounts in their
currency, times in UTC, and what a person must do where one must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from domain import progress

PARIS = timezone(timedelta(hours=1))


def test_amounts_carry_their_currency_and_zero_decimal_currencies_have_no_cents() -> None:
    assert progress.amount(4210, "usd") == "$42.10"
    assert progress.amount(5, "EUR") == "€0.05"
    assert progress.amount(1200, "jpy") == "1200 JPY"
    assert progress.amount(1000, "chf") == "10.00 CHF"
    assert progress.amount(-250, "gbp") == "-£2.50"


def test_deadlines_are_told_in_utc_whatever_the_clock_they_come_from() -> None:
    ship_by = datetime(2026, 12, 3, 15, 0, tzinfo=PARIS)
    assert progress.waiting_to_ship("Brakes Co", ship_by) == (
        "waiting for Brakes Co to ship, SLA ends 2026-12-03 14:00 UTC"
    )
    assert (
        progress.waiting_to_ship("Brakes Co", None) == "waiting for Brakes Co to ship (no ship SLA)"
    )


def test_a_breached_sla_says_when_it_cancels_or_that_a_person_decides() -> None:
    ended = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    cancels = ended + timedelta(days=2)
    assert progress.ship_sla_passed("Brakes Co", ended, cancels).endswith(
        "cancels automatically at 2026-12-05 14:00 UTC unless it ships"
    )
    assert progress.ship_sla_passed("Brakes Co", ended, None).endswith(
        "an operator decides (no automatic cancellation)"
    )


def test_what_needs_a_person_says_so() -> None:
    since = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    assert progress.auto_cancel_refused("Brakes Co").endswith("an operator must look")
    assert progress.delivery_needs_a_look("parcel_returned", since) == (
        "delivery problem (parcel_returned) since 2026-12-03 14:00 UTC: an operator must look"
    )
    refused = progress.payout_refused("Brakes Co", "account restricted", 3, since)
    assert refused == (
        "payout to Brakes Co refused (account restricted), 3 attempt(s); next try at "
        "2026-12-03 14:00 UTC, or now with retry-payout"
    )


def test_an_order_lists_what_each_vendor_still_waits_for() -> None:
    assert progress.following(10999, "usd", ["Brakes Co: shipped"]) == (
        "charged $109.99; waiting for Brakes Co: shipped"
    )
    assert progress.following(10999, "usd", []) == "charged $109.99; every vendor order is done"


def test_a_summary_stays_one_short_line_however_many_lines_the_order_has() -> None:
    lines = [(f"SKU-{n:04d}", n) for n in range(1, 101)]
    order = progress.order_summary("ord_1", "cus_1", lines)
    assert len(order) == progress.SUMMARY_MAX and order.endswith("…")
    part = progress.vendor_order_summary("V" * 200, "ord_1", lines, 123456, "usd")
    assert len(part) <= progress.SUMMARY_MAX and part.endswith("… ($1234.56)")
    # A short one is left whole
    assert progress.order_summary("ord_1", "cus_1", lines[:2]) == (
        "order ord_1 for cus_1: 1 x SKU-0001, 2 x SKU-0002"
    )
