"""The platform's commission: a rate in basis points of the goods a buyer keeps, rounded half
up to the cent. Shipping is never commissioned; a refund gives back the commission on the
goods it refunds (domain/payout.py applies it to a vendor order)."""

from __future__ import annotations

from domain.errors import ValidationFailed
from domain.money import div_round_half_up

BPS_PER_UNIT = 10_000


def ensure_commission_bps(commission_bps: int) -> int:
    """The rate itself, if it lies between 0 and 10,000 basis points (0 % to 100 %)."""
    if isinstance(commission_bps, bool) or not 0 <= commission_bps <= BPS_PER_UNIT:
        raise ValidationFailed(
            f"commission_bps must be between 0 and {BPS_PER_UNIT}, got {commission_bps}",
            field="commission_bps",
        )
    return commission_bps


def commission_cents(goods_cents: int, commission_bps: int) -> int:
    """``commission_bps`` basis points of ``goods_cents``, rounded half up to the cent.

    The result never exceeds ``goods_cents``: at 10,000 bps it is exactly the goods.
    """
    if goods_cents < 0:
        raise ValueError(f"goods_cents must not be negative, got {goods_cents}")
    ensure_commission_bps(commission_bps)
    return div_round_half_up(goods_cents * commission_bps, BPS_PER_UNIT)
