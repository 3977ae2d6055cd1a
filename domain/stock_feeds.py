"""Stock feeds from suppliers' systems (issue 13, part 3): the rules, without I/O.

A feed is a file of absolute levels, one row per (sku, warehouse), stamped with the time the
supplier's system took them (`as_of`). Reading it (domain/stock_feed_parsing.py) refuses the
rows that can be judged alone; applying it refuses the rows the database judges (an unknown
SKU, another vendor's SKU, an older feed's row, a level below what is reserved). A refused
row changes nothing and is reported with its line and one of the stable reasons below; the
feed's other rows still apply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.errors import ValidationFailed

# A feed's rows, at most: enough for a supplier's whole catalog across its warehouses.
MAX_ROWS = 100_000
# A feed stamped further ahead than this is refused: it would make every honest feed after
# it stale until the clock caught up.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Longest key values a stock level has (models/stock.py): longer ones name nothing.
SKU_CHARS = 64
WAREHOUSE_CHARS = 40


class FeedFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


class FeedStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RowOutcome(StrEnum):
    APPLIED = "applied"  # the level now is the row's quantity, audited as a movement
    UNCHANGED = "unchanged"  # the level already was the row's quantity: no movement
    REFUSED = "refused"  # nothing changed; `reason` says why


class Reason(StrEnum):
    """Why a row was refused: stable codes a supplier's system may act on."""

    MALFORMED_ROW = "malformed_row"  # not a row of the feed's format
    MISSING_FIELD = "missing_field"  # sku, warehouse_id or quantity missing or empty
    INVALID_QUANTITY = "invalid_quantity"  # not an integer
    NEGATIVE_QUANTITY = "negative_quantity"
    QUANTITY_TOO_LARGE = "quantity_too_large"  # above models.stock.MAX_ON_HAND
    DUPLICATE_ROW = "duplicate_row"  # another row of this feed sets the same level
    UNKNOWN_SKU = "unknown_sku"
    SKU_OF_ANOTHER_VENDOR = "sku_of_another_vendor"
    UNKNOWN_WAREHOUSE = "unknown_warehouse"  # none of this vendor's warehouses
    STALE = "stale"  # a newer feed already set this level
    BELOW_RESERVED = "below_reserved"  # more units are reserved than the row's quantity


class FeedInvalid(ValidationFailed):
    """The feed as a whole cannot be taken (a 422); nothing is kept."""


@dataclass(frozen=True)
class FeedRow:
    """One row as read: a level to set, or (with `reason`) a row refused as it was read."""

    line: int
    sku: str | None
    warehouse_id: str | None
    quantity: int | None
    reason: Reason | None = None
    detail: str | None = None


def check_as_of(as_of: datetime, now: datetime) -> datetime:
    """The feed's own time, with its offset (API.md: times carry one) and not ahead of now."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise FeedInvalid("as_of must carry a UTC offset (2026-12-03T16:00:00Z)", field="as_of")
    if as_of > now + MAX_CLOCK_SKEW:
        raise FeedInvalid(
            f"as_of is ahead of the server's clock by more than {MAX_CLOCK_SKEW}",
            field="as_of",
            now=now.isoformat(),
        )
    return as_of


def content_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def feed_id(vendor_id: str, as_of: datetime, fmt: FeedFormat, body_sha256: str) -> str:
    """The same feed (vendor, time, format, bytes) has the same id: sent twice, it is one
    feed, applied once. Any other as_of is another feed."""
    # The instant, not how it was written: 16:00Z and 17:00+01:00 are one time.
    instant = as_of.astimezone(UTC).isoformat()
    digest = hashlib.sha256("\0".join((vendor_id, instant, fmt, body_sha256)).encode())
    return "feed_" + digest.hexdigest()[:24]


def stock_feed_workflow_id(feed: str) -> str:
    return f"stock-feed-{feed}"


@dataclass(frozen=True)
class Verdict:
    outcome: RowOutcome
    reason: Reason | None = None
    detail: str | None = None


def ownership(
    vendor_id: str, product_vendor: str | None, warehouse_vendor: str | None
) -> Verdict | None:
    """A refusal when the row's SKU or warehouse is not the feeding vendor's; None when both
    are. Another vendor's warehouse is unknown, as everywhere (no existence leak); another
    vendor's SKU is said so, since any caller may read a product."""
    if product_vendor is None:
        return Verdict(RowOutcome.REFUSED, Reason.UNKNOWN_SKU, "no product has this sku")
    if product_vendor != vendor_id:
        return Verdict(
            RowOutcome.REFUSED, Reason.SKU_OF_ANOTHER_VENDOR, "this sku is another vendor's"
        )
    if warehouse_vendor != vendor_id:
        return Verdict(
            RowOutcome.REFUSED, Reason.UNKNOWN_WAREHOUSE, "no warehouse of yours has this id"
        )
    return None


def judge_level(
    quantity: int,
    on_hand: int,
    reserved: int,
    as_of: datetime,
    last_feed_as_of: datetime | None,
) -> Verdict:
    """What a row of a feed stamped `as_of` does to a level last set by a feed stamped
    `last_feed_as_of` (None: never by a feed).

    An older feed never overwrites a newer one's level: a supplier's system that sends its
    feeds out of order (a retry queue, two exports racing) must not move stock back in time.
    A feed of the same time is not older and applies. Setting a level below its reserved
    units is refused, as PUT /v1/inventory refuses it (API.md): those units are promised."""
    if last_feed_as_of is not None and as_of < last_feed_as_of:
        return Verdict(
            RowOutcome.REFUSED,
            Reason.STALE,
            f"a feed as of {last_feed_as_of.isoformat()} already set this level",
        )
    if quantity == on_hand:
        return Verdict(RowOutcome.UNCHANGED)
    if quantity < reserved:
        return Verdict(
            RowOutcome.REFUSED,
            Reason.BELOW_RESERVED,
            f"{reserved} units of this level are reserved for orders",
        )
    return Verdict(RowOutcome.APPLIED)
