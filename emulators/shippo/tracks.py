"""Tracking: tracks registered for webhooks, the test carrier's scripted parcels, and moves.

Every change of a parcel's status is a new tracking event with its own stable ``object_id``
and one ``track_updated`` webhook carrying the track as it was right after the change.
Registration itself announces nothing: it is not a change.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import TYPE_CHECKING, Any

from . import catalog
from .calls import Call, metadata
from .errors import ControlError, invalid
from .state import ShippoObject, iso, new_id, track_key

if TYPE_CHECKING:
    from .app import Emulator

STATUSES = ("UNKNOWN", "PRE_TRANSIT", "TRANSIT", "DELIVERED", "RETURNED", "FAILURE")
# The test carrier's numbers (also as prefixes, e.g. SHIPPO_DELIVERED_42, so tests can use
# numbers of their own) and the statuses each passes through after it is registered, one per
# auto-advance interval.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "SHIPPO_PRE_TRANSIT": (),
    "SHIPPO_TRANSIT": ("TRANSIT",),
    "SHIPPO_DELIVERED": ("TRANSIT", "DELIVERED"),
    "SHIPPO_RETURNED": ("TRANSIT", "RETURNED"),
    "SHIPPO_FAILURE": ("TRANSIT", "FAILURE"),
}
_DETAILS: dict[str, tuple[str, str, str, bool]] = {
    # status: (status_details, substatus code, substatus text, action required)
    "UNKNOWN": ("The carrier has not reported this parcel yet.", "information_received",
                "Information about the package received.", False),
    "PRE_TRANSIT": ("Shipping label created, the carrier awaits the item.",
                    "information_received", "Information about the package received.", False),
    "TRANSIT": ("Your shipment has departed from the origin.", "package_departed",
                "Package has departed from an external facility.", False),
    "DELIVERED": ("Your shipment has been delivered.", "delivered",
                  "Package has been delivered.", False),
    "RETURNED": ("Your shipment has been returned to the original sender.", "return_to_sender",
                 "Package is being returned to the sender.", False),
    "FAILURE": ("The carrier could not deliver your shipment.", "delivery_attempt_failed",
                "Delivery attempt failed.", True),
}  # fmt: skip
_HUB = {"city": "Memphis", "state": "TN", "zip": "38118", "country": "US"}


def script_of(carrier: str, tracking_number: str) -> tuple[str, ...] | None:
    if carrier != catalog.SHIPPO.token:
        return None
    for prefix, steps in SCRIPTS.items():
        if tracking_number.upper().startswith(prefix):
            return steps
    return None


def _location(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {key: address.get(key) for key in ("city", "state", "zip", "country")}


def _event(track: ShippoObject, status: str, details: str | None) -> ShippoObject:
    text, code, sub_text, action = _DETAILS[status]
    place = {
        "PRE_TRANSIT": track.get("address_from"),
        "TRANSIT": _HUB,
        "DELIVERED": track.get("address_to"),
        "RETURNED": track.get("address_from"),
        "FAILURE": track.get("address_to"),
    }.get(status)
    now = iso()
    return {
        "object_created": now,
        "object_updated": now,
        "object_id": new_id(),
        "status": status,
        "status_details": details or text,
        "status_date": now,
        "substatus": {"code": code, "text": sub_text, "action_required": action},
        "location": _location(place),
    }


def _new_track(
    carrier: str,
    tracking_number: str,
    meta: str,
    label: dict[str, Any] | None,
) -> ShippoObject:
    label = label or {}
    return {
        "carrier": carrier,
        "tracking_number": tracking_number,
        "address_from": _location(label.get("address_from")),
        "address_to": _location(label.get("address_to")),
        "eta": label.get("eta"),
        "original_eta": label.get("eta"),
        "servicelevel": label.get("servicelevel"),
        "metadata": meta or None,
        "messages": [],
        "transaction": label.get("transaction"),
        "tracking_status": None,
        "tracking_history": [],
        "test": True,
    }


def register(
    emu: Emulator,
    carrier: str,
    tracking_number: str,
    meta: str = "",
    label: dict[str, Any] | None = None,
) -> ShippoObject:
    """The track of a parcel, created at its first status when it is new (a bought label or a
    test number: PRE_TRANSIT; anything else: UNKNOWN), the test carrier's script scheduled."""
    carrier = carrier.lower()
    key = track_key(carrier, tracking_number)
    track = emu.store.get("track", key)
    if track is not None:
        if meta:
            track["metadata"] = meta
        return track
    track = emu.store.add("track", key, _new_track(carrier, tracking_number, meta, label))
    script = script_of(carrier, tracking_number)
    first = "PRE_TRANSIT" if label is not None or script is not None else "UNKNOWN"
    _append(track, _event(track, first, None))
    now = time.time()
    for step, status in enumerate(script or (), start=1):
        emu.store.schedule(
            now + step * emu.auto_advance_seconds, "track_step", track=key, status=status
        )
    return track


def move(
    emu: Emulator, track: ShippoObject, status: str, details: str | None = None
) -> ShippoObject:
    """A new tracking event, its webhook queued; a linked label shows the new status too."""
    _append(track, _event(track, status, details))
    transaction = emu.store.get("transaction", track.get("transaction") or "")
    if transaction is not None:
        transaction["tracking_status"] = status
        transaction["object_updated"] = iso()
    emu.webhooks.enqueue(
        {"event": "track_updated", "test": True, "data": copy.deepcopy(track)},
        subject=track_key(track["carrier"], track["tracking_number"]),
    )
    return track


def _append(track: ShippoObject, event: ShippoObject) -> None:
    track["tracking_status"] = event
    track["tracking_history"].append(event)


def run_step(emu: Emulator, job: dict[str, Any]) -> None:
    track = emu.store.get("track", job["track"])
    if track is not None:
        move(emu, track, job["status"])


def cancel_script(emu: Emulator, key: str) -> None:
    emu.store.jobs = [job for job in emu.store.jobs if job.get("track") != key]


def _unregistered(carrier: str, tracking_number: str) -> ShippoObject:
    """What Shippo answers about a parcel nobody registered: the carrier knows nothing yet."""
    track = _new_track(carrier, tracking_number, "", None)
    _append(track, _event(track, "UNKNOWN", None))
    # Stable, so asking twice about the same parcel names the same event.
    track["tracking_status"]["object_id"] = uuid.uuid5(
        uuid.NAMESPACE_URL, carrier + "/" + tracking_number
    ).hex
    return track


# --- API handlers ---------------------------------------------------------------------------


def create(emu: Emulator, call: Call) -> tuple[int, Any]:
    body = call.object_body()
    carrier, number = body.get("carrier"), body.get("tracking_number")
    if not isinstance(carrier, str) or not carrier.strip():
        raise invalid("carrier", "This field is required.")
    if not isinstance(number, str) or not number.strip():
        raise invalid("tracking_number", "This field is required.")
    track = register(emu, carrier.strip(), number.strip(), metadata(body))
    emu.commit()
    # The SDK reads this answer only as 200 (not 201).
    return 200, track


def get(emu: Emulator, call: Call) -> tuple[int, Any]:
    carrier, number = call.params["carrier"].lower(), call.params["tracking_number"]
    track = emu.store.get("track", track_key(carrier, number))
    return 200, track if track is not None else _unregistered(carrier, number)


# --- control ---------------------------------------------------------------------------------


def control_move(emu: Emulator, carrier: str, number: str, body: dict[str, Any]) -> ShippoObject:
    status = str(body.get("status", "")).upper()
    if status not in STATUSES:
        raise ControlError(400, f"status must be one of {', '.join(STATUSES)}")
    details = body.get("status_details")
    if details is not None and not isinstance(details, str):
        raise ControlError(400, "status_details must be a string")
    carrier = carrier.lower()
    track = register(emu, carrier, number)
    # Whoever moves a parcel by hand takes over from the test carrier's script.
    cancel_script(emu, track_key(carrier, number))
    move(emu, track, status, details)
    emu.commit()
    return track
