"""Integer money arithmetic in minor units (cents).

One rounding rule everywhere: a share that falls between two cents is rounded half up
(away from zero, as every amount here is non-negative). Splits never round each part on its
own; they allocate, so the parts always add up to the whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import ValidationFailed


def div_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, with exact integer arithmetic.

    Floats are never used: 0.1 + 0.2 is not 0.3, and a cent lost that way is a cent owed.
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    if numerator < 0:
        raise ValueError(f"numerator must not be negative, got {numerator}")
    return (2 * numerator + denominator) // (2 * denominator)


def allocate(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_cents`` in proportion to ``weights`` so that the parts sum to the total.

    Rule (largest remainder): each part first gets the floor of its exact share
    ``total * weight / sum(weights)``; the cents still missing then go one each to the parts
    with the largest remainders, ties going to the earliest index. So every part is within
    one cent of its exact share, and a part with weight 0 gets nothing.

    When every weight is 0 the total is split equally by the same rule (the first parts get
    the extra cents). An empty ``weights`` only allocates a total of 0.
    """
    if total_cents < 0:
        raise ValueError(f"total_cents must not be negative, got {total_cents}")
    if any(weight < 0 for weight in weights):
        raise ValueError(f"weights must not be negative, got {list(weights)}")
    if not weights:
        if total_cents:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    sum_of_weights = sum(weights)
    if sum_of_weights == 0:
        weights = [1] * len(weights)
        sum_of_weights = len(weights)
    parts: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        part, remainder = divmod(total_cents * weight, sum_of_weights)
        parts.append(part)
        remainders.append(remainder)
    missing = total_cents - sum(parts)
    # Stable order: largest remainder first, then earliest index.
    by_remainder = sorted(range(len(parts)), key=lambda index: (-remainders[index], index))
    for index in by_remainder[:missing]:
        parts[index] += 1
    return parts


# The largest single charge the payment provider accepts, in minor units (Stripe: 99,999,999
# for usd and most currencies; the few that differ are listed). An order above it is refused
# before anything is held or charged.
MAX_CHARGE_CENTS = 99_999_999
_MAX_CHARGE_BY_CURRENCY: dict[str, int] = {"idr": 99_999_999_999, "jpy": 99_999_999}


def max_charge_cents(currency: str) -> int:
    return _MAX_CHARGE_BY_CURRENCY.get(currency.lower(), MAX_CHARGE_CENTS)


def ensure_chargeable(total_cents: int, currency: str) -> None:
    """Refuse an amount the payment provider would refuse (a validation_error naming it)."""
    limit = max_charge_cents(currency)
    if total_cents > limit:
        raise ValidationFailed(
            f"the order's total {total_cents} exceeds the largest charge of {limit} {currency}",
            total_cents=total_cents,
            limit_cents=limit,
        )
