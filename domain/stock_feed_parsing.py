"""Reading a stock feed's body: CSV or JSON lines, one absolute level per row.

Lines are the body's physical lines, from 1 (a CSV's header is line 1), so a supplier finds a
refused row in the file it sent. Blank lines are skipped but counted. A row that cannot be
read is refused with its reason and the others are kept; a body that is not a feed at all
(not UTF-8, a CSV without the needed columns, no rows, too many rows) is FeedInvalid.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from domain.stock_feeds import (
    MAX_ROWS,
    SKU_CHARS,
    WAREHOUSE_CHARS,
    FeedFormat,
    FeedInvalid,
    FeedRow,
    Reason,
)

COLUMNS = ("sku", "warehouse_id", "quantity")
_INTEGER = re.compile(r"[+-]?[0-9]+")
# More digits than any level holds: refused before int() is asked to read them.
_MOST_DIGITS = 12


def parse_feed(
    body: bytes, fmt: FeedFormat, max_quantity: int, max_rows: int = MAX_ROWS
) -> list[FeedRow]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FeedInvalid(f"the feed is not UTF-8 text (byte {error.start})") from None
    reader = _csv_rows(text) if fmt is FeedFormat.CSV else _ndjson_rows(text)
    rows: list[FeedRow] = []
    for line, fields in reader:
        if len(rows) == max_rows:
            raise FeedInvalid(
                f"a feed holds at most {max_rows} rows; send the rest in another feed",
                limit=max_rows,
            )
        rows.append(_row(line, fields, max_quantity))
    if not rows:
        raise FeedInvalid("the feed has no rows")
    return _refuse_duplicates(rows)


# A row's fields as read: a dict of the three columns (values as given), or a reason.
_Fields = dict[str, Any] | tuple[Reason, str]


def _csv_rows(text: str) -> Iterator[tuple[int, _Fields]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FeedInvalid("the feed has no rows")
        names = [name.strip().lower() for name in header]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise FeedInvalid(
                f"the CSV header (line 1) lacks {', '.join(missing)}: it must name "
                f"{', '.join(COLUMNS)}",
                columns=list(COLUMNS),
            )
        where = {column: names.index(column) for column in COLUMNS}
        for record in reader:
            if not record or record == [""]:
                continue
            if len(record) != len(names):
                yield (
                    reader.line_num,
                    (
                        Reason.MALFORMED_ROW,
                        f"{len(record)} fields where the header has {len(names)}",
                    ),
                )
                continue
            yield reader.line_num, {column: record[i] for column, i in where.items()}
    except csv.Error as error:
        raise FeedInvalid(f"the CSV cannot be read at line {reader.line_num}: {error}") from None


def _ndjson_rows(text: str) -> Iterator[tuple[int, _Fields]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except (ValueError, RecursionError):
            yield number, (Reason.MALFORMED_ROW, "not a JSON object")
            continue
        if not isinstance(document, dict):
            yield number, (Reason.MALFORMED_ROW, "not a JSON object")
            continue
        yield number, {column: document.get(column) for column in COLUMNS}


def _row(line: int, fields: _Fields, max_quantity: int) -> FeedRow:
    if isinstance(fields, tuple):
        return FeedRow(line, None, None, None, fields[0], fields[1])
    sku, warehouse = _text(fields["sku"]), _text(fields["warehouse_id"])
    quantity = fields["quantity"]
    # Shown beside the refusal (a Reason is a str too: not a value to show).
    shown_sku = None if sku is None or isinstance(sku, Reason) else sku[:SKU_CHARS]
    shown_warehouse = (
        None if warehouse is None or isinstance(warehouse, Reason) else warehouse[:WAREHOUSE_CHARS]
    )

    def refused(reason: Reason, detail: str) -> FeedRow:
        return FeedRow(line, shown_sku, shown_warehouse, None, reason, detail)

    for name, value in (("sku", sku), ("warehouse_id", warehouse)):
        if isinstance(value, Reason):
            return refused(value, f"{name} must be text that can be stored")
        if not value:
            return refused(Reason.MISSING_FIELD, f"{name} is missing")
    assert sku is not None and warehouse is not None
    if quantity is None or quantity == "":
        return refused(Reason.MISSING_FIELD, "quantity is missing")
    number = _integer(quantity)
    if number is None:
        return refused(Reason.INVALID_QUANTITY, "quantity must be a whole number")
    if number < 0:
        return refused(Reason.NEGATIVE_QUANTITY, "quantity must not be negative")
    if number > max_quantity:
        return refused(Reason.QUANTITY_TOO_LARGE, f"quantity must be at most {max_quantity}")
    if len(sku) > SKU_CHARS:
        return refused(Reason.UNKNOWN_SKU, f"no sku is longer than {SKU_CHARS} characters")
    if len(warehouse) > WAREHOUSE_CHARS:
        return refused(
            Reason.UNKNOWN_WAREHOUSE, f"no warehouse id is longer than {WAREHOUSE_CHARS}"
        )
    return FeedRow(line, sku, warehouse, number)


def _text(value: Any) -> str | Reason | None:
    """A key field: stripped text; MALFORMED_ROW for what is not storable text (a number, a
    NUL, a lone surrogate); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        return Reason.MALFORMED_ROW
    if "\x00" in value or any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return Reason.MALFORMED_ROW
    return value.strip()


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip()
        if not _INTEGER.fullmatch(digits):
            return None
        if len(digits.lstrip("+-").lstrip("0")) > _MOST_DIGITS:
            return -1 if digits.startswith("-") else 10**_MOST_DIGITS
        return int(digits)
    return None  # a float, even 5.0: a count of units has no fractions


def _refuse_duplicates(rows: list[FeedRow]) -> list[FeedRow]:
    """Every row of a level that the feed sets more than once is refused: which of them the
    supplier meant cannot be told, so none is applied."""
    lines: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        if row.reason is None and row.sku is not None and row.warehouse_id is not None:
            lines[(row.sku, row.warehouse_id)].append(row.line)
    repeated = {key: found for key, found in lines.items() if len(found) > 1}
    if not repeated:
        return rows
    judged = []
    for row in rows:
        found = repeated.get((row.sku or "", row.warehouse_id or ""))
        if row.reason is None and found is not None:
            others = ", ".join(str(line) for line in found if line != row.line)
            row = FeedRow(
                row.line,
                row.sku,
                row.warehouse_id,
                None,
                Reason.DUPLICATE_ROW,
                f"line(s) {others} of this feed set the same level",
            )
        judged.append(row)
    return judged
