"""What the emulator's carriers offer and charge. Deterministic: the same parcel between the
same places always gets the same prices, so tests can rely on which rate is cheapest and which
fastest."""

from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import invalid

CENT = Decimal("0.01")
# Volumetric divisor used by the big carriers: a light but bulky parcel pays for its volume.
VOLUMETRIC_CM3_PER_KG = 5000
GRAMS_PER = {"g": 1.0, "kg": 1000.0, "lb": 453.59237, "oz": 28.349523125}
CM_PER = {"cm": 1.0, "mm": 0.1, "m": 100.0, "in": 2.54, "ft": 30.48, "yd": 91.44}
_CURRENCIES = {"US": "USD", "CA": "CAD", "GB": "GBP", "AU": "AUD", "CH": "CHF"}
_EURO = {"AT", "BE", "DE", "ES", "FI", "FR", "GR", "IE", "IT", "LU", "NL", "PT"}


@dataclass(frozen=True)
class Carrier:
    token: str  # what /tracks takes: "usps", "shippo"
    provider: str  # what a rate shows: "USPS", "Shippo"
    account: str  # the carrier account object id rates name

    def tracking_url(self, number: str) -> str:
        urls = {
            "usps": "https://tools.usps.com/go/TrackConfirmAction_input?origTrackNum=",
            "ups": "https://www.ups.com/track?tracknum=",
            "fedex": "https://www.fedex.com/fedextrack/?trknbr=",
        }
        return urls.get(self.token, "https://goshippo.com/tracking/shippo/") + number


@dataclass(frozen=True)
class Service:
    carrier: Carrier
    token: str
    name: str
    days: int
    base: Decimal
    per_kg: Decimal
    terms: str


USPS = Carrier("usps", "USPS", "d2ed2a63bef746218a32e15450ece9d9")
UPS = Carrier("ups", "UPS", "1b7ed7cfd2cc4de4a5b9a5ef0b9e2ab4")
FEDEX = Carrier("fedex", "FedEx", "7c2cc1b9b8a04b8a8bd2fb4eb4fef1ea")
# Shippo's own test carrier: its tracking numbers SHIPPO_TRANSIT, SHIPPO_DELIVERED, ... move
# by themselves (see tracks.py).
SHIPPO = Carrier("shippo", "Shippo", "b741b99f95e841639b54272834bc478c")
CARRIERS = {carrier.token: carrier for carrier in (USPS, UPS, FEDEX, SHIPPO)}

SERVICES = (
    Service(USPS, "usps_ground_advantage", "Ground Advantage", 5, Decimal("4.40"),
            Decimal("1.10"), "Delivery in 2 to 5 business days."),
    Service(SHIPPO, "shippo_standard", "Standard (test carrier)", 4, Decimal("4.90"),
            Decimal("1.00"), "Test carrier: moves when told to."),
    Service(USPS, "usps_priority", "Priority Mail", 3, Decimal("7.90"), Decimal("1.60"),
            "Delivery in 1 to 3 business days."),
    Service(UPS, "ups_ground", "Ground", 4, Decimal("8.50"), Decimal("1.30"),
            "Delivery in 1 to 5 business days."),
    Service(FEDEX, "fedex_2_day", "FedEx 2Day", 2, Decimal("14.00"), Decimal("2.20"),
            "Delivery in 2 business days."),
    Service(SHIPPO, "shippo_express", "Express (test carrier)", 1, Decimal("18.50"),
            Decimal("2.90"), "Test carrier: moves when told to."),
    Service(UPS, "ups_next_day_air", "Next Day Air", 1, Decimal("24.00"), Decimal("3.50"),
            "Next business day by 10:30 a.m."),
)  # fmt: skip


def number(value: Any, field: str) -> float:
    """A dimension or weight as the SDK sends it (a decimal string) or as a JSON number."""
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise invalid(field, "A valid number is required.") from None
    if not math.isfinite(parsed) or parsed <= 0:
        raise invalid(field, "Ensure this value is greater than 0.")
    return parsed


def chargeable_kg(parcels: list[dict[str, Any]]) -> float:
    """The weight a carrier bills: the larger of the real and the volumetric weight."""
    grams = sum(number(p["weight"], "weight") * GRAMS_PER[p["mass_unit"]] for p in parcels)
    volume = sum(
        math.prod(
            number(p[side], side) * CM_PER[p["distance_unit"]]
            for side in ("length", "width", "height")
        )
        for p in parcels
    )
    return max(grams / 1000.0, volume / VOLUMETRIC_CM3_PER_KG)


def zone(address_from: dict[str, Any], address_to: dict[str, Any]) -> int:
    """1 to 8 by the distance between the first digits of the postal codes; 9 abroad."""
    if str(address_from.get("country", "")).upper() != str(address_to.get("country", "")).upper():
        return 9
    a, b = str(address_from.get("zip") or "")[:1], str(address_to.get("zip") or "")[:1]
    if a.isdigit() and b.isdigit():
        return min(8, 1 + abs(int(a) - int(b)))
    return 2


def currency(country: str) -> str:
    country = country.upper()
    return "EUR" if country in _EURO else _CURRENCIES.get(country, "USD")


def price(service: Service, kg: float, zone_number: int) -> Decimal:
    # Billed by the started half kilogram; each zone further away costs 8% more.
    steps = Decimal(max(1, math.ceil(kg * 2))) / 2
    raw = (service.base + service.per_kg * steps) * (1 + Decimal("0.08") * (zone_number - 1))
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def new_tracking_number(carrier: Carrier) -> str:
    digits = "".join(secrets.choice(string.digits) for _ in range(20))
    if carrier.token == "usps":
        return f"9400{digits[:18]}"
    if carrier.token == "ups":
        alnum = string.ascii_uppercase + string.digits
        return "1Z" + "".join(secrets.choice(alnum) for _ in range(16))
    if carrier.token == "fedex":
        return digits[:12]
    # A number of the test carrier that stays where it is until a control moves it.
    return f"SHIPPO_PRE_TRANSIT_{secrets.token_hex(6).upper()}"
