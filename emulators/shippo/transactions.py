"""Labels: POST/GET /transactions. Shippo takes no idempotency key here, so every purchase buys
a label, duplicates included; a client that retries must look for its label first."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import addresses, catalog, tracks
from .calls import Call, flag, metadata
from .errors import invalid, not_found
from .state import OWNER, ShippoObject, iso, new_id, page_of, track_key

if TYPE_CHECKING:
    from .app import Emulator

ASYNC_DELAY_SECONDS = 0.2
LABEL_FILE_TYPES = (
    "PNG", "PNG_2.3x7.5", "PDF", "PDF_2.3x7.5", "PDF_4x6", "PDF_4x8", "PDF_A4", "PDF_A5",
    "PDF_A6", "ZPLII",
)  # fmt: skip


def create(emu: Emulator, call: Call) -> tuple[int, Any]:
    body = call.object_body()
    rate_id = body.get("rate")
    if rate_id is None and "shipment" in body:
        raise invalid("rate", "The emulator buys labels from rates only, not instantly.")
    if not isinstance(rate_id, str) or not rate_id:
        raise invalid("rate", "This field is required.")
    rate = emu.store.get("rate", rate_id)
    if rate is None:
        raise invalid("rate", f"Rate with object_id '{rate_id}' not found.")
    file_type = body.get("label_file_type") or "PDF"
    if file_type not in LABEL_FILE_TYPES:
        raise invalid("label_file_type", f'"{file_type}" is not a valid choice.')
    shipment = emu.store.get("shipment", rate["shipment"])
    assert shipment is not None
    now = iso()
    transaction: ShippoObject = {
        "object_id": new_id(),
        "object_owner": OWNER,
        "object_state": "VALID",
        "object_created": now,
        "object_updated": now,
        "status": "QUEUED",
        "test": True,
        "rate": rate_id,
        "parcel": shipment["parcels"][0]["object_id"],
        "metadata": metadata(body),
        "label_file_type": file_type,
        "tracking_number": "",
        "tracking_status": "UNKNOWN",
        "tracking_url_provider": "",
        "eta": None,
        "label_url": "",
        "commercial_invoice_url": None,
        "qr_code_url": None,
        "messages": [],
        # The SDK cannot read a transaction without it (its default is a sentinel string).
        "created_by": None,
    }
    emu.store.add("transaction", transaction["object_id"], transaction)
    # The SDK sends async=true unless told otherwise.
    if flag(body, "async", True):
        emu.store.schedule(
            time.time() + ASYNC_DELAY_SECONDS,
            "finish_transaction",
            transaction=transaction["object_id"],
            base_url=call.base_url,
        )
    else:
        finish(emu, transaction, call.base_url)
    emu.commit()
    return 201, transaction


def finish(emu: Emulator, transaction: ShippoObject, base_url: str) -> None:
    """Buy the label: SUCCESS with a tracking number and a registered track, or ERROR when an
    address cannot be printed on a label (addresses.py: Shippo quotes such addresses but
    labels none)."""
    rate = emu.store.get("rate", transaction["rate"])
    assert rate is not None
    shipment = emu.store.get("shipment", rate["shipment"])
    assert shipment is not None
    carrier = next(c for c in catalog.CARRIERS.values() if c.provider == rate["provider"])
    transaction["object_updated"] = iso()
    problems = [
        {"source": carrier.provider, **problem}
        for side in ("address_from", "address_to")
        for problem in addresses.label_problems(side, shipment[side])
    ]
    if problems:
        transaction.update(status="ERROR", object_state="INVALID", messages=problems)
        return
    number = catalog.new_tracking_number(carrier)
    while emu.store.get("track", track_key(carrier.token, number)) is not None:
        number = catalog.new_tracking_number(carrier)
    eta = iso(time.time() + 86400 * rate["estimated_days"])
    transaction.update(
        status="SUCCESS",
        tracking_number=number,
        tracking_status="PRE_TRANSIT",
        tracking_url_provider=carrier.tracking_url(number),
        eta=eta,
        label_url=f"{base_url}/_emulator/labels/{transaction['object_id']}.pdf",
    )
    level = rate["servicelevel"]
    tracks.register(
        emu,
        carrier.token,
        number,
        label={
            "address_from": shipment["address_from"],
            "address_to": shipment["address_to"],
            "servicelevel": {"token": level["token"], "name": level["name"]},
            "eta": eta,
            "transaction": transaction["object_id"],
        },
    )


def run_finish(emu: Emulator, job: dict[str, Any]) -> None:
    transaction = emu.store.get("transaction", job["transaction"])
    if transaction is not None and transaction["status"] == "QUEUED":
        finish(emu, transaction, job["base_url"])


def get(emu: Emulator, call: Call) -> tuple[int, Any]:
    transaction = emu.store.get("transaction", call.params["transaction_id"])
    if transaction is None:
        raise not_found()
    return 200, transaction


def list_all(emu: Emulator, call: Call) -> tuple[int, Any]:
    field = {"rate": "rate", "object_status": "status", "tracking_status": "tracking_status"}
    where = {name: call.query[key] for key, name in field.items() if call.query.get(key)}
    found = emu.store.newest("transaction", where)
    return 200, page_of(found, call.query, call.url(call.path))
