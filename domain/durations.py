"""Durations as the API takes them: ISO 8601 (``"PT72H"``) or a number of seconds.

Years and months are refused: their length depends on the calendar date they start from,
and a timer or a return window must mean the same span whenever it starts.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from fractions import Fraction

_MICROSECONDS = {
    "weeks": 7 * 86_400 * 10**6,
    "days": 86_400 * 10**6,
    "hours": 3_600 * 10**6,
    "minutes": 60 * 10**6,
    "seconds": 10**6,
}

_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO = re.compile(
    rf"""
    P
    (?:(?P<years>{_NUMBER})Y)?
    (?:(?P<months>{_NUMBER})M)?
    (?:(?P<weeks>{_NUMBER})W)?
    (?:(?P<days>{_NUMBER})D)?
    (?:T
        (?:(?P<hours>{_NUMBER})H)?
        (?:(?P<minutes>{_NUMBER})M)?
        (?:(?P<seconds>{_NUMBER})S)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)
_SECONDS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def parse_duration(value: str | int | float) -> timedelta:
    """A non-negative duration from ISO 8601 or a number of seconds.

    ISO 8601: ``P[nW][nD][T[nH][nM][nS]]``, e.g. ``P14D``, ``PT72H``, ``PT1.5S``, ``P1W``,
    ``P1DT2H`` (designators case-insensitive, ``.`` or ``,`` before a fraction). Seconds: an
    int, a float or a numeric string (``"30"``, ``"0.5"``). Precision is one microsecond,
    rounded half to even. Raises ``ValueError`` for empty, negative, malformed, year or month
    durations, and for durations too long for a ``timedelta``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"a duration is an ISO 8601 string or a number of seconds, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a duration must be finite, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("a duration must not be empty")
        if _SECONDS.fullmatch(text):
            seconds = Fraction(text)
        else:
            return _from_microseconds(_parse_iso(text), value)
    else:
        seconds = Fraction(value)
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {value!r}")
    return _from_microseconds(round(seconds * 10**6), value)


def _parse_iso(text: str) -> int:
    upper = text.upper()
    if upper.startswith("-"):
        raise ValueError(f"a duration must not be negative, got {text!r}")
    match = _ISO.fullmatch(upper)
    if match is None or upper.endswith("T") or upper in ("P", "PT"):
        raise ValueError(
            f"not an ISO 8601 duration or a number of seconds: {text!r} "
            "(examples: 'P14D', 'PT72H', 'PT1.5S', '30')"
        )
    parts = match.groupdict()
    if parts["years"] is not None or parts["months"] is not None:
        raise ValueError(
            f"years and months are ambiguous in a duration, use days or weeks: {text!r}"
        )
    total = Fraction(0)
    for name, microseconds in _MICROSECONDS.items():
        amount = parts[name]
        if amount is not None:
            total += Fraction(amount.replace(",", ".")) * microseconds
    return round(total)


def _from_microseconds(microseconds: int, original: object) -> timedelta:
    try:
        return timedelta(microseconds=microseconds)
    except OverflowError:
        raise ValueError(f"duration too long: {original!r}") from None


def format_duration(td: timedelta) -> str:
    """Canonical ISO 8601: whole days as ``nD``, the rest as ``T nH nM nS``.

    ``P14D``, ``P3D`` (for 72 hours), ``P1DT2H``, ``PT30S``, ``PT0.5S``, ``PT0S`` for zero.
    Weeks are written as days, so each duration has one spelling.
    ``parse_duration(format_duration(td)) == td`` for every non-negative ``td``.
    """
    if td < timedelta(0):
        raise ValueError(f"a duration must not be negative, got {td!r}")
    hours, rest = divmod(td.seconds, 3_600)
    minutes, seconds = divmod(rest, 60)
    date = f"{td.days}D" if td.days else ""
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or td.microseconds:
        fraction = f".{td.microseconds:06d}".rstrip("0") if td.microseconds else ""
        time += f"{seconds}{fraction}S"
    if not date and not time:
        return "PT0S"
    return f"P{date}" + (f"T{time}" if time else "")
