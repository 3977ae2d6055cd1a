"""A stock feed's rows are read one by one: a bad row is refused with its line and a stable
reason while the others stand; a body that is no feed at all is refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.stock_feed_parsing import parse_feed
from domain.stock_feeds import (
    FeedFormat,
    FeedInvalid,
    Reason,
    RowOutcome,
    check_as_of,
    feed_id,
    judge_level,
)

MAX = 1000


def refusals(body: bytes, fmt: FeedFormat) -> list[tuple[int, str | None]]:
    return [(row.line, row.reason) for row in parse_feed(body, fmt, MAX) if row.reason]


def test_csv_rows_are_read_with_their_physical_line_numbers() -> None:
    body = b"quantity, SKU ,warehouse_id,note\n3,A,w1,x\n\n7,B,w1,y\n"
    rows = parse_feed(body, FeedFormat.CSV, MAX)
    assert [(r.line, r.sku, r.warehouse_id, r.quantity) for r in rows] == [
        (2, "A", "w1", 3),
        (4, "B", "w1", 7),
    ]


def test_bad_csv_rows_are_refused_each_with_a_stable_reason() -> None:
    body = (
        b"sku,warehouse_id,quantity\n"
        b"A,w1,-1\n"
        b"B,w1,2.5\n"
        b"C,w1,1001\n"
        b",w1,4\n"
        b"D,w1\n"
        b"E,w1,99999999999999999999999\n"
        b"F,w1,\n"
        b"G,w1,5\n"
        b"G,w1,6\n"
        b"H,w1,1\n"
    )
    assert refusals(body, FeedFormat.CSV) == [
        (2, Reason.NEGATIVE_QUANTITY),
        (3, Reason.INVALID_QUANTITY),
        (4, Reason.QUANTITY_TOO_LARGE),
        (5, Reason.MISSING_FIELD),
        (6, Reason.MALFORMED_ROW),
        (7, Reason.QUANTITY_TOO_LARGE),
        (8, Reason.MISSING_FIELD),
        (9, Reason.DUPLICATE_ROW),
        (10, Reason.DUPLICATE_ROW),
    ]


def test_json_lines_must_be_objects_with_a_whole_number_quantity() -> None:
    body = (
        b'{"sku": "A", "warehouse_id": "w1", "quantity": 3}\n'
        b"not json\n"
        b"[1, 2]\n"
        b'{"sku": "B", "warehouse_id": "w1", "quantity": 3.0}\n'
        b'{"sku": "C", "warehouse_id": "w1", "quantity": true}\n'
        b'{"sku": 7, "warehouse_id": "w1", "quantity": 1}\n'
        b'{"sku": "D\\u0000", "warehouse_id": "w1", "quantity": 1}\n'
        b'{"sku": "E", "quantity": 1}\n'
    )
    assert refusals(body, FeedFormat.NDJSON) == [
        (2, Reason.MALFORMED_ROW),
        (3, Reason.MALFORMED_ROW),
        (4, Reason.INVALID_QUANTITY),
        (5, Reason.INVALID_QUANTITY),
        (6, Reason.MALFORMED_ROW),
        (7, Reason.MALFORMED_ROW),
        (8, Reason.MISSING_FIELD),
    ]


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"", FeedFormat.CSV),
        (b"sku,warehouse_id,quantity\n", FeedFormat.CSV),
        (b"sku,quantity\nA,1\n", FeedFormat.CSV),
        (b"\xff\xfe", FeedFormat.NDJSON),
        (b"\n\n", FeedFormat.NDJSON),
    ],
)
def test_a_body_that_is_no_feed_is_refused_whole(body: bytes, fmt: FeedFormat) -> None:
    with pytest.raises(FeedInvalid):
        parse_feed(body, fmt, MAX)


def test_a_feed_holds_at_most_the_row_limit() -> None:
    body = b"sku,warehouse_id,quantity\n" + b"".join(b"S%d,w,1\n" % n for n in range(11))
    assert len(parse_feed(body, FeedFormat.CSV, MAX, max_rows=11)) == 11
    with pytest.raises(FeedInvalid) as refused:
        parse_feed(body + b"T,w,1\n", FeedFormat.CSV, MAX, max_rows=11)
    assert refused.value.extra["limit"] == 11


def test_an_older_feed_never_overwrites_a_level_a_newer_feed_set() -> None:
    t = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert judge_level(5, 9, 0, t, t + timedelta(seconds=1)).reason == Reason.STALE
    assert judge_level(5, 9, 0, t, t).outcome == RowOutcome.APPLIED
    assert judge_level(9, 9, 0, t, None).outcome == RowOutcome.UNCHANGED
    assert judge_level(2, 9, 3, t, None).reason == Reason.BELOW_RESERVED
    assert judge_level(3, 9, 3, t, None).outcome == RowOutcome.APPLIED


def test_as_of_must_carry_an_offset_and_not_run_ahead_of_the_clock() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    with pytest.raises(FeedInvalid):
        check_as_of(datetime(2026, 12, 3, 12), now)
    with pytest.raises(FeedInvalid):
        check_as_of(now + timedelta(hours=1), now)
    assert check_as_of(now + timedelta(minutes=1), now) == now + timedelta(minutes=1)


def test_the_same_feed_has_one_id_whatever_offset_its_time_is_written_in() -> None:
    utc = datetime(2026, 12, 3, 16, tzinfo=UTC)
    paris = utc.astimezone(datetime.fromisoformat("2026-12-03T17:00:00+01:00").tzinfo)
    assert feed_id("v", utc, FeedFormat.CSV, "h") == feed_id("v", paris, FeedFormat.CSV, "h")
    assert feed_id("v", utc, FeedFormat.CSV, "h") != feed_id("v", utc, FeedFormat.NDJSON, "h")
    assert feed_id("v", utc, FeedFormat.CSV, "h") != feed_id("w", utc, FeedFormat.CSV, "h")
