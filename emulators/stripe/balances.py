"""Connected accounts' available balances and restrictions, which Stripe keeps off the Account.

A transfer credits its destination; a reversal takes the money back only while the account
still holds it, so tests can make a vendor "spend" a payout and see the reversal fail.
"""

from __future__ import annotations

from typing import Any

from .errors import StripeAPIError, balance_insufficient
from .state import Store, StripeObject

# Stripe has no code named for a restricted account; a destination that may not receive
# transfers is refused with this one, the closest Stripe answers for that case.
RESTRICTED_CODE = "insufficient_capabilities_for_transfer"


def state_of(store: Store, account_id: str) -> dict[str, Any]:
    return store.account_state.setdefault(account_id, {"available": 0, "restricted": False})


def describe(store: Store, account_id: str) -> dict[str, Any]:
    state = state_of(store, account_id)
    return {
        "account": account_id,
        "available": state["available"],
        "restricted": state["restricted"],
    }


def credit(store: Store, account_id: str, amount: int) -> None:
    state_of(store, account_id)["available"] += amount


def debit(store: Store, account_id: str, amount: int) -> None:
    ensure_covers(store, account_id, amount)
    state_of(store, account_id)["available"] -= amount


def ensure_covers(store: Store, account_id: str, amount: int) -> None:
    available = state_of(store, account_id)["available"]
    if amount > available:
        raise balance_insufficient(
            f"Insufficient funds in the connected account {account_id} to reverse this "
            f"transfer: {available} available, {amount} requested."
        )


def ensure_may_receive(store: Store, account_id: str) -> None:
    if state_of(store, account_id)["restricted"]:
        raise StripeAPIError(
            400,
            "invalid_request_error",
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            code=RESTRICTED_CODE,
            param="destination",
        )


def set_available(store: Store, account_id: str, available: int) -> None:
    state_of(store, account_id)["available"] = available


def restrict(store: Store, account: StripeObject, restricted: bool) -> None:
    state_of(store, account["id"])["restricted"] = restricted
    # The Account shows the restriction the way Stripe does, for whoever looks it up.
    account["payouts_enabled"] = not restricted
    if "transfers" in account["capabilities"]:
        account["capabilities"]["transfers"] = "inactive" if restricted else "active"
    account["requirements"] = {"disabled_reason": "requirements.past_due" if restricted else None}
