"""Where a parcel travels and what it costs to send: a point on the globe, the great-circle
distance between two, and the postage estimate (integer cents) that routing weighs and checkout
charges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.errors import ValidationFailed
from domain.number_checks import finite, not_negative

EARTH_RADIUS_KM = 6371.0

# The shipping estimate: a flat base for any parcel, then distance and weight, so it grows with
# both and never goes down. Integer cents, because it becomes the order's shipping_cents.
SHIPPING_BASE_CENTS = 499
SHIPPING_CENTS_PER_10_KM = 1  # per 10 km started
SHIPPING_CENTS_PER_KG = 100  # per kilogram started


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        finite(self.latitude, "latitude")
        finite(self.longitude, "longitude")
        if not -90.0 <= self.latitude <= 90.0:
            raise ValidationFailed(
                f"latitude must be within [-90, 90], got {self.latitude!r}", field="latitude"
            )
        if not -180.0 <= self.longitude <= 180.0:
            raise ValidationFailed(
                f"longitude must be within [-180, 180], got {self.longitude!r}", field="longitude"
            )


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance on a sphere of radius 6371 km (haversine formula)."""
    lat_a = math.radians(a.latitude)
    lat_b = math.radians(b.latitude)
    half_dlat = (lat_b - lat_a) / 2
    half_dlon = math.radians(b.longitude - a.longitude) / 2
    h = math.sin(half_dlat) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(half_dlon) ** 2
    # Rounding can push h a hair above 1 for antipodal points, where asin would fail.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def estimate_shipping_cents(distance_km: float, weight_grams: int) -> int:
    """499 cents, plus 1 cent per 10 km started, plus 100 cents per kilogram started.

    Monotonic (non-decreasing) in both distance and weight, so a nearer or lighter parcel is
    never estimated dearer.
    """
    not_negative(distance_km, "distance_km")
    if weight_grams < 0:
        raise ValidationFailed(
            f"weight_grams must not be negative, got {weight_grams}", field="weight_grams"
        )
    tens_of_km = math.ceil(distance_km / 10)
    kilograms = -(-weight_grams // 1000)
    return (
        SHIPPING_BASE_CENTS
        + SHIPPING_CENTS_PER_10_KM * tens_of_km
        + SHIPPING_CENTS_PER_KG * kilograms
    )
