"""Shipments and their rates: POST/GET /shipments, GET /shipments/{id}/rates, GET /rates/{id}."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import addresses, catalog
from .calls import Call, flag, metadata
from .errors import ShippoAPIError, invalid, not_found
from .state import OWNER, ShippoObject, iso, new_id, page_of

if TYPE_CHECKING:
    from .app import Emulator

# How long an asynchronous shipment stays QUEUED before its rates are ready.
ASYNC_DELAY_SECONDS = 0.2
_ADDRESS_FIELDS = (
    "name", "company", "street1", "street2", "street3", "street_no", "city", "state", "zip",
    "country", "phone", "email", "is_residential", "metadata",
)  # fmt: skip


def _address(body: dict[str, Any], field: str) -> ShippoObject:
    given = body.get(field)
    if isinstance(given, str):
        raise invalid(field, "The emulator takes addresses inline, not by object id.")
    if not isinstance(given, dict):
        raise invalid(field, "This field is required.")
    country = given.get("country")
    if not isinstance(country, str) or len(country.strip()) != 2:
        raise ShippoAPIError(400, {field: {"country": ["A two-letter country code is required."]}})
    now = iso()
    address = {key: given[key] for key in _ADDRESS_FIELDS if given.get(key) not in (None, "")}
    address["country"] = country.strip().upper()
    return {
        **address,
        "is_complete": addresses.is_complete(address),
        "object_id": new_id(),
        "object_owner": OWNER,
        "object_created": now,
        "object_updated": now,
        "validation_results": {"is_valid": True, "messages": []},
        "test": True,
    }


def _parcel(given: Any, index: int) -> ShippoObject:
    field = "parcels"
    if isinstance(given, str) or not isinstance(given, dict):
        raise invalid(field, "The emulator takes parcels inline, not by object id.")
    if "template" in given:
        raise invalid(field, "The emulator does not know parcel templates; give dimensions.")
    for key in ("length", "width", "height", "weight", "distance_unit", "mass_unit"):
        if given.get(key) in (None, ""):
            raise ShippoAPIError(400, {field: {str(index): {key: ["This field is required."]}}})
    if given["mass_unit"] not in catalog.GRAMS_PER:
        raise invalid(field, f"mass_unit must be one of {', '.join(catalog.GRAMS_PER)}.")
    if given["distance_unit"] not in catalog.CM_PER:
        raise invalid(field, f"distance_unit must be one of {', '.join(catalog.CM_PER)}.")
    sizes = {key: given[key] for key in ("length", "width", "height", "weight")}
    for key, value in sizes.items():
        catalog.number(value, key)
    now = iso()
    return {
        **{key: str(value) for key, value in sizes.items()},
        "distance_unit": given["distance_unit"],
        "mass_unit": given["mass_unit"],
        "metadata": given.get("metadata") or "",
        "object_id": new_id(),
        "object_owner": OWNER,
        "object_state": "VALID",
        "object_created": now,
        "object_updated": now,
        "test": True,
    }


def _quote(emu: Emulator, shipment: ShippoObject, accounts: list[str]) -> list[ShippoObject]:
    """Every service's rate for the shipment; the cheapest, fastest and best value marked."""
    kg = catalog.chargeable_kg(shipment["parcels"])
    zone = catalog.zone(shipment["address_from"], shipment["address_to"])
    money = catalog.currency(shipment["address_from"]["country"])
    services = [s for s in catalog.SERVICES if not accounts or s.carrier.account in accounts]
    priced = [(service, catalog.price(service, kg, zone)) for service in services]
    if not priced:
        return []
    cheapest = min(priced, key=lambda pair: pair[1])[0]
    fastest = min(priced, key=lambda pair: (pair[0].days, pair[1]))[0]
    quick = [pair for pair in priced if pair[0].days <= 3] or priced
    best = min(quick, key=lambda pair: pair[1])[0]
    now = iso()
    rates = []
    for service, amount in priced:
        attributes = [
            name
            for name, chosen in (("CHEAPEST", cheapest), ("FASTEST", fastest), ("BESTVALUE", best))
            if chosen is service
        ]
        image = (
            f"https://shippo-static.s3.amazonaws.com/providers/75/{service.carrier.provider}.png"
        )
        rate = {
            "object_id": new_id(),
            "object_owner": OWNER,
            "object_created": now,
            "shipment": shipment["object_id"],
            "attributes": attributes,
            "amount": str(amount),
            "currency": money,
            "amount_local": str(amount),
            "currency_local": money,
            "provider": service.carrier.provider,
            "provider_image_75": image,
            "provider_image_200": image.replace("/75/", "/200/"),
            "servicelevel": {
                "name": service.name,
                "token": service.token,
                "terms": service.terms,
                "extended_token": service.token,
                "parent_servicelevel": None,
            },
            "estimated_days": service.days,
            "arrives_by": None,
            "duration_terms": service.terms,
            "messages": [],
            "carrier_account": service.carrier.account,
            "included_insurance_price": None,
            "zone": str(zone),
            "test": True,
        }
        rates.append(emu.store.add("rate", rate["object_id"], rate))
    return rates


def create(emu: Emulator, call: Call) -> tuple[int, Any]:
    body = call.object_body()
    address_from = _address(body, "address_from")
    address_to = _address(body, "address_to")
    parcels = body.get("parcels")
    if not isinstance(parcels, list) or not parcels:
        raise invalid("parcels", "At least one parcel is required.")
    accounts = body.get("carrier_accounts") or []
    if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
        raise invalid("carrier_accounts", "Expected a list of carrier account object ids.")
    now = iso()
    shipment: ShippoObject = {
        "object_id": new_id(),
        "object_owner": OWNER,
        "object_created": now,
        "object_updated": now,
        "status": "QUEUED",
        "address_from": address_from,
        "address_to": address_to,
        "parcels": [_parcel(parcel, index) for index, parcel in enumerate(parcels)],
        "carrier_accounts": accounts,
        "rates": [],
        "messages": [],
        "metadata": metadata(body),
        "shipment_date": body.get("shipment_date") or now,
        "test": True,
    }
    emu.store.add("shipment", shipment["object_id"], shipment)
    if flag(body, "async", False):
        emu.store.schedule(
            time.time() + ASYNC_DELAY_SECONDS, "finish_shipment", shipment=shipment["object_id"]
        )
    else:
        finish(emu, shipment)
    emu.commit()
    return 201, shipment


def finish(emu: Emulator, shipment: ShippoObject) -> None:
    shipment["rates"] = _quote(emu, shipment, shipment["carrier_accounts"])
    shipment["status"] = "SUCCESS"
    shipment["object_updated"] = iso()


def run_finish(emu: Emulator, job: dict[str, Any]) -> None:
    shipment = emu.store.get("shipment", job["shipment"])
    if shipment is not None and shipment["status"] == "QUEUED":
        finish(emu, shipment)


def _shipment(emu: Emulator, call: Call) -> ShippoObject:
    shipment = emu.store.get("shipment", call.params["shipment_id"])
    if shipment is None:
        raise not_found()
    return shipment


def get(emu: Emulator, call: Call) -> tuple[int, Any]:
    return 200, _shipment(emu, call)


def list_all(emu: Emulator, call: Call) -> tuple[int, Any]:
    return 200, page_of(emu.store.newest("shipment"), call.query, call.url(call.path))


def rates(emu: Emulator, call: Call) -> tuple[int, Any]:
    return 200, page_of(_shipment(emu, call)["rates"], call.query, call.url(call.path))


def get_rate(emu: Emulator, call: Call) -> tuple[int, Any]:
    rate = emu.store.get("rate", call.params["rate_id"])
    if rate is None:
        raise not_found()
    return 200, rate
