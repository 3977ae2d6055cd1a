"""A vendor's lifecycle (issue 13, part 4): `pending` -> `active` -> `suspended`, and back
from `suspended` to `active`; only operators move it.

Only an active vendor's products can be bought: checkout refuses the others' SKUs with
`vendor_unavailable` (in the API before any saga starts, and again in the saga's catalog step
for a vendor suspended in between). What a vendor already sold goes on: it ships, is
delivered, and is paid, whatever its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from domain.errors import InvalidState, VendorUnavailable


class VendorStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class VendorAction(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"


# From each status, what each action leads to; an action missing here is refused.
_TRANSITIONS: dict[tuple[VendorStatus, VendorAction], VendorStatus] = {
    (VendorStatus.PENDING, VendorAction.ACTIVATE): VendorStatus.ACTIVE,
    (VendorStatus.SUSPENDED, VendorAction.ACTIVATE): VendorStatus.ACTIVE,
    (VendorStatus.ACTIVE, VendorAction.SUSPEND): VendorStatus.SUSPENDED,
}

_DONE = {VendorAction.ACTIVATE: "activated", VendorAction.SUSPEND: "suspended"}


def next_status(current: str, action: VendorAction) -> VendorStatus:
    """The status `action` leads to from `current`, or InvalidState naming the current one
    (activating an active vendor, suspending a pending or suspended one)."""
    found = _TRANSITIONS.get((VendorStatus(current), action))
    if found is None:
        raise InvalidState(f"a {current} vendor cannot be {_DONE[action]}", vendor_status=current)
    return found


def sellable(status: str) -> bool:
    return status == VendorStatus.ACTIVE


def ensure_sellable(lines: Iterable[tuple[str, str, str]]) -> None:
    """Refuse (VendorUnavailable) when any (sku, vendor_id, vendor status) is not sellable."""
    refused = sorted({(sku, vendor) for sku, vendor, status in lines if not sellable(status)})
    if refused:
        raise VendorUnavailable(
            skus=sorted({sku for sku, _ in refused}),
            vendor_ids=sorted({vendor for _, vendor in refused}),
        )
