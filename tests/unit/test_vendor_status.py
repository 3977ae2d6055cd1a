"""A vendor's lifecycle rules (domain/vendor_status.py)."""

from __future__ import annotations

import pytest

from domain.errors import ErrorCode, InvalidState, VendorUnavailable
from domain.vendor_status import VendorAction, ensure_sellable, next_status


@pytest.mark.parametrize(
    ("current", "action", "after"),
    [
        ("pending", VendorAction.ACTIVATE, "active"),
        ("active", VendorAction.SUSPEND, "suspended"),
        ("suspended", VendorAction.ACTIVATE, "active"),
    ],
)
def test_ops_move_a_vendor_along_its_lifecycle(
    current: str, action: VendorAction, after: str
) -> None:
    assert next_status(current, action) == after


@pytest.mark.parametrize(
    ("current", "action"),
    [
        ("active", VendorAction.ACTIVATE),
        ("pending", VendorAction.SUSPEND),
        ("suspended", VendorAction.SUSPEND),
    ],
)
def test_a_move_the_status_does_not_allow_is_refused_naming_the_status(
    current: str, action: VendorAction
) -> None:
    with pytest.raises(InvalidState) as refused:
        next_status(current, action)
    assert refused.value.code == ErrorCode.INVALID_STATE
    assert refused.value.extra == {"vendor_status": current}


def test_only_an_active_vendors_lines_are_sellable_and_the_others_are_named_once() -> None:
    ensure_sellable([("A", "ven_1", "active"), ("B", "ven_2", "active")])
    with pytest.raises(VendorUnavailable) as refused:
        ensure_sellable(
            [
                ("A", "ven_1", "active"),
                ("C", "ven_3", "suspended"),
                ("B", "ven_2", "pending"),
                ("C", "ven_3", "suspended"),
            ]
        )
    assert refused.value.code == ErrorCode.VENDOR_UNAVAILABLE
    assert refused.value.extra == {"skus": ["B", "C"], "vendor_ids": ["ven_2", "ven_3"]}
    assert "B, C" in refused.value.detail
