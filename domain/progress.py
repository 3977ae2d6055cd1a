"""What an order or a vendor order is doing, in plain words: the sentences an operator reads
in the Temporal Web UI (a workflow's current details, its summary, its steps' summaries),
so "why has this order not paid its vendor?" is answered by looking, not by reading code.

Pure: the workflows pass what they know. Times are UTC to the minute; amounts carry their
currency. Each sentence says what the workflow waits for and until when, or what a person
must do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

# Stripe's zero-decimal currencies this core may meet: their minor unit is the whole unit.
_ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "isk", "ugx", "xof", "xaf"})
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
# A workflow's summary is one line in the UI's list, and servers may bound its size: an order
# of a hundred lines (or a 200-character vendor name) is cut here, never refused there.
SUMMARY_MAX = 200


def amount(cents: int, currency: str) -> str:
    """`$42.10`, `€5.00`, `1200 JPY`, `10.00 CHF`."""
    currency = currency.lower()
    if currency in _ZERO_DECIMAL:
        return f"{cents} {currency.upper()}"
    sign = "-" if cents < 0 else ""
    units, hundredths = divmod(abs(cents), 100)
    if currency in _SYMBOLS:
        return f"{sign}{_SYMBOLS[currency]}{units}.{hundredths:02d}"
    return f"{sign}{units}.{hundredths:02d} {currency.upper()}"


def moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def units(lines: Sequence[tuple[str, int]]) -> str:
    """`3 x BRAKE-01, 1 x TYRE-700`."""
    return ", ".join(f"{quantity} x {sku}" for sku, quantity in lines)


# The order (OrderWorkflow).


def order_summary(order_id: str, customer_id: str, lines: Sequence[tuple[str, int]]) -> str:
    return _one_line(f"order {order_id} for {customer_id}: {units(lines)}")


def checking_out(total_cents: int, currency: str, vendors: Sequence[str]) -> str:
    return f"checking out {amount(total_cents, currency)} from {', '.join(vendors)}"


def order_refused(code: str, message: str) -> str:
    return f"refused ({code}): {message}"


def following(total_cents: int, currency: str, waiting: Sequence[str]) -> str:
    """Confirmed; what each vendor order still waits for (`Brakes Co: shipped`)."""
    charged = f"charged {amount(total_cents, currency)}"
    if not waiting:
        return f"{charged}; every vendor order is done"
    return f"{charged}; waiting for {'; '.join(waiting)}"


# A vendor's part (VendorOrderWorkflow).


def vendor_order_summary(
    vendor: str, order_id: str, lines: Sequence[tuple[str, int]], goods_cents: int, currency: str
) -> str:
    worth = f" ({amount(goods_cents, currency)})"
    return (
        _one_line(f"{vendor}'s part of {order_id}: {units(lines)}", SUMMARY_MAX - len(worth))
        + worth
    )


def waiting_to_ship(vendor: str, ship_by: datetime | None) -> str:
    if ship_by is None:
        return f"waiting for {vendor} to ship (no ship SLA)"
    return f"waiting for {vendor} to ship, SLA ends {moment(ship_by)}"


def awaiting_acknowledgement(vendor: str, due: datetime) -> str:
    return f"waiting for {vendor} to accept or reject the order, due by {moment(due)}"


def acknowledgement_overdue(vendor: str, due: datetime) -> str:
    return (
        f"{vendor} has not accepted or rejected the order: due {moment(due)}; "
        "the ship SLA still runs"
    )


def rerouted(vendor: str, warehouse_id: str, due: datetime | None) -> str:
    then = f", to accept by {moment(due)}" if due is not None else ""
    return f"{vendor} rejected it; moved to its warehouse {warehouse_id}{then}"


def ship_sla_passed(vendor: str, ship_by: datetime, cancels_at: datetime | None) -> str:
    then = (
        f"cancels automatically at {moment(cancels_at)} unless it ships"
        if cancels_at is not None
        else "an operator decides (no automatic cancellation)"
    )
    return f"{vendor} has not shipped: SLA ended {moment(ship_by)}; {then}"


def auto_cancel_refused(vendor: str) -> str:
    return (
        f"automatic cancellation failed (the buyer's refund was refused): {vendor}'s stock "
        "is still held and it may still ship; an operator must look"
    )


def in_transit(carrier: str, tracking_number: str, overdue_at: datetime | None) -> str:
    until = f", overdue after {moment(overdue_at)}" if overdue_at is not None else ""
    return f"shipped with {carrier} {tracking_number}; waiting for delivery{until}"


def delivery_needs_a_look(reason: str, since: datetime) -> str:
    return f"delivery problem ({reason}) since {moment(since)}: an operator must look"


def return_window(ends: datetime) -> str:
    return f"delivered; return window open until {moment(ends)}, then the vendor is paid"


def returns_open(count: int, expires_at: datetime | None) -> str:
    until = f"received or expired at {moment(expires_at)}" if expires_at else "received"
    return f"return window closed; {count} open return(s) hold the payout until {until}"


def disputed(count: int) -> str:
    return f"payout held: {count} open dispute(s) on the buyer's charge"


def paying(vendor: str) -> str:
    return f"paying {vendor}"


def payout_refused(vendor: str, reason: str, attempt: int, next_try: datetime) -> str:
    return (
        f"payout to {vendor} refused ({reason}), {attempt} attempt(s); next try at "
        f"{moment(next_try)}, or now with retry-payout"
    )


def paid(vendor: str, cents: int, currency: str) -> str:
    return f"completed: {vendor} paid {amount(cents, currency)}"


def cancelled(reason: str, by: str) -> str:
    return f"cancelled by {by}: {reason}"


def _one_line(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
