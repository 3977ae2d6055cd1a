"""The timing settings travel as one policy (models/messages/timing.py): from the settings at
checkout, through the order's input, to each vendor order's; inputs recorded before the
policy existed read their flat fields into it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from models.messages.checkout import OrderInput
from models.messages.timing import FIELDS, TimingPolicy
from models.messages.vendor_order import VendorOrderInput
from models.settings import Settings

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"
DAY = timedelta(days=1).total_seconds()


def recorded_input(name: str) -> dict[str, Any]:
    """The workflow input of a recorded history (as a worker of the time serialized it)."""
    history = json.loads((HISTORIES / name).read_text())
    started = history["events"][0]["workflowExecutionStartedEventAttributes"]
    data: dict[str, Any] = json.loads(base64.b64decode(started["input"]["payloads"][0]["data"]))
    return data


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("order_completed_issue10_lean.json", OrderInput),
        ("vendor_order_completed_issue10_lean.json", VendorOrderInput),
    ],
)
def test_an_input_recorded_before_the_policy_keeps_its_timings(name: str, model: Any) -> None:
    recorded = recorded_input(name)
    assert "timing" not in recorded and "return_window_seconds" in recorded  # flat, as then
    read = model.model_validate(recorded)
    assert read.timing == TimingPolicy(
        return_window_seconds=14 * DAY,
        auto_cancel_seconds=2 * DAY,
        delivery_overdue_seconds=10 * DAY,
        return_expires_seconds=14 * DAY,
    )
    # Only the timings moved: everything else reads as it was recorded.
    written = read.model_dump(mode="json")
    for key in recorded.keys() - FIELDS - {"created_at"}:  # (a datetime, written differently)
        assert written[key] == recorded[key], key


def test_an_input_carries_the_policy_once_not_a_copy_of_each_field() -> None:
    order = OrderInput.model_validate(recorded_input("order_completed_issue10_lean.json"))
    written = order.model_dump(mode="json")
    assert not FIELDS & written.keys()
    assert written["timing"]["return_window_seconds"] == 14 * DAY


def test_an_order_placed_now_runs_with_the_timings_set_now() -> None:
    settings = Settings(
        FULFILLMENT_RETURN_WINDOW="P3D",
        FULFILLMENT_AUTO_CANCEL_AFTER="PT12H",
        FULFILLMENT_DELIVERY_OVERDUE_AFTER="P5D",
        FULFILLMENT_RETURN_EXPIRES_AFTER="P7D",
        FULFILLMENT_PAYOUT_RETRY_AFTER="PT5M",
        FULFILLMENT_RESERVATION_HOLD="PT30M",
    )
    assert settings.timing_policy() == TimingPolicy(
        return_window_seconds=3 * DAY,
        auto_cancel_seconds=12 * 3600.0,
        delivery_overdue_seconds=5 * DAY,
        return_expires_seconds=7 * DAY,
        payout_retry_seconds=300.0,
        hold_seconds=1800.0,
    )
