"""A parcel's tracking status in our words: read from the SDK's answers and from Shippo's
``track_updated`` webhook, with Shippo's times in UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shippo.models import components

TRACKING_STATUSES = frozenset(
    {"PRE_TRANSIT", "TRANSIT", "DELIVERED", "RETURNED", "FAILURE", "UNKNOWN"}
)


@dataclass(frozen=True)
class TrackingUpdate:
    carrier: str
    tracking_number: str
    status: str  # PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE or UNKNOWN
    status_id: str  # the tracking event's object_id: the same event always has the same one
    status_date: datetime | None


def parse_track_updated(body: bytes) -> TrackingUpdate | None:
    """The tracking update a Shippo webhook carries; None for other events. Read by hand,
    not by the SDK's models, so a field Shippo leaves out does not lose a delivery."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"the webhook body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ValueError("the webhook body is not a JSON object")
    if payload.get("event") != "track_updated":
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ValueError("a track_updated webhook without a track in data")
    carrier, number = data.get("carrier"), data.get("tracking_number")
    if not isinstance(carrier, str) or not carrier or not isinstance(number, str) or not number:
        raise ValueError("a track_updated webhook without carrier and tracking_number")
    status = data.get("tracking_status")
    if status is None:
        return TrackingUpdate(carrier, number, "UNKNOWN", "", None)
    if not isinstance(status, dict):
        raise ValueError("tracking_status is not an object")
    name = status.get("status") or "UNKNOWN"
    if not isinstance(name, str):
        raise ValueError("tracking_status.status is not a string")
    when = _parse_time(status.get("status_date") or status.get("object_updated"))
    status_id = status.get("object_id")
    if not isinstance(status_id, str) or not status_id:
        # Without Shippo's id, the event is named by what it says, which repeats with it.
        status_id = f"{name}@{when.isoformat() if when else ''}"
    return TrackingUpdate(
        carrier, number, name if name in TRACKING_STATUSES else "UNKNOWN", status_id, when
    )


def tracking_update(
    carrier: str, tracking_number: str, status: components.TrackingStatus | None
) -> TrackingUpdate:
    if status is None:
        return TrackingUpdate(carrier, tracking_number, "UNKNOWN", "", None)
    return TrackingUpdate(
        carrier,
        tracking_number,
        status_text(status.status),
        status.object_id,
        _utc(status.status_date or status.object_updated),
    )


def status_text(status: Any) -> str:
    """A status the SDK read (an enum, or the text of one it does not know) as its text."""
    return str(getattr(status, "value", status))


def _parse_time(raw: Any) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError("a tracking time is not a string")
    try:
        return _utc(datetime.fromisoformat(raw))
    except ValueError as exc:
        raise ValueError(f"a tracking time is not ISO 8601: {raw!r}") from exc


def _utc(moment: datetime | None) -> datetime | None:
    """In UTC, which Shippo's times are in even when they do not say so."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
