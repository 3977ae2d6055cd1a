"""Checks on the numbers the rules are given (coordinates, distances, hours, weights): each
refused as ValidationFailed naming its field, so a NaN or a negative never reaches a score.
"""

from __future__ import annotations

import math

from domain.errors import ValidationFailed


def finite(value: float, field: str) -> None:
    if not math.isfinite(value):
        raise ValidationFailed(f"{field} must be a finite number, got {value!r}", field=field)


def not_negative(value: float, field: str) -> None:
    finite(value, field)
    if value < 0:
        raise ValidationFailed(f"{field} must not be negative, got {value!r}", field=field)
