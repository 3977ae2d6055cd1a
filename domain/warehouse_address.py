"""Whether a warehouse's postal address is enough to ship a label from it.

A warehouse is created with what routing needs (postal code, country, coordinates); its street
address may come later (docs/warehouse-addresses.md). A label bought without it would carry a
made-up return address, so the label is refused until the vendor completes the address: the
vendor can still ship with its own carrier and tracking number.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import DomainError, ErrorCode

# Carriers print at most 35 characters on a street line (Shippo's Address: "35 character
# limit"); a longer line is refused when the warehouse is saved, not when a label is bought.
STREET_LINE_MAX = 35
# Shippo needs a state or province for labels from or to these countries.
STATE_REQUIRED_IN = frozenset({"US", "CA", "AU"})


def missing_for_labels(
    *, address_line1: str | None, city: str | None, state: str | None, country: str
) -> list[str]:
    """The warehouse's fields a label still needs, in the API's names (empty: none)."""
    missing = [
        name for name, value in (("address_line1", address_line1), ("city", city)) if not value
    ]
    if country.upper() in STATE_REQUIRED_IN and not state:
        missing.append("state")
    return missing


class WarehouseAddressIncomplete(DomainError):
    """A label cannot leave from this warehouse yet; ``extra["missing"]`` names the fields
    to set (PATCH /v1/vendors/{vendor_id}/warehouses/{warehouse_id})."""

    code = ErrorCode.WAREHOUSE_ADDRESS_INCOMPLETE

    def __init__(self, warehouse_id: str, missing: Sequence[str]) -> None:
        super().__init__(
            f"warehouse {warehouse_id} has no complete postal address for a label "
            f"(missing: {', '.join(missing)}); set it on the warehouse, or ship with your "
            "own carrier and tracking number",
            warehouse_id=warehouse_id,
            missing=list(missing),
        )
