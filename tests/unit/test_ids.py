"""Ids and idempotency keys keep their exact shape: each is stored in PostgreSQL, in Temporal
histories or at Stripe, and a retry after an upgrade must land on what the first try made."""

from __future__ import annotations

import hashlib
import re

from domain import ids


def test_an_operators_refund_key_is_the_same_for_the_same_idempotency_key() -> None:
    expected = hashlib.sha256(b"ops\0key-1").hexdigest()[:32]
    assert ids.ops_refund_key("key-1") == expected
    assert ids.ops_refund_key("key-2") != expected


def test_a_return_opened_again_with_its_key_is_the_same_return() -> None:
    expected = "ret_" + hashlib.sha256(b"ord_1\0k").hexdigest()[:16]
    assert ids.return_id_for("ord_1", "k") == expected
    assert ids.return_id_for("ord_2", "k") != expected
    # Without a key every return is new.
    assert ids.return_id_for("ord_1", None) != ids.return_id_for("ord_1", None)
    assert re.fullmatch(r"ret_[0-9a-f]{16}", ids.return_id_for("ord_1", None))


def test_a_shippo_update_is_known_by_what_it_says() -> None:
    seen = b"ups\x001Z\x00DELIVERED\x00st_1"
    assert ids.shippo_event_id("ups", "1Z", "DELIVERED", "st_1") == (
        "shippo_" + hashlib.sha256(seen).hexdigest()[:40]
    )
    assert ids.shippo_event_id("ups", "1Z", "TRANSIT", "st_1") != ids.shippo_event_id(
        "ups", "1Z", "DELIVERED", "st_1"
    )


def test_workflow_and_update_ids_keep_the_shapes_running_histories_hold() -> None:
    assert ids.order_workflow_id("ord_1") == "order-ord_1"
    assert ids.checkout_update_id("f" * 64) == "checkout-" + "f" * 40
    assert ids.payout_adjustment_workflow_id("vo_1", "r1") == "adjust-vo_1-r1"
    assert ids.refund_update_id("r1") == "refund-r1"
    assert ids.return_refund_key("ret_1") == "return-ret_1"
    assert ids.payout_reversal_key("tr_1") == "payout-tr_1"
    assert ids.payout_reversal_key(None) == "payout-none"
    assert ids.notification_workflow_id("ev_1") == "notify-ev_1"


def test_provider_keys_keep_the_shapes_stripe_has_seen() -> None:
    assert ids.charge_idempotency_key("ord_1") == "ord_1:charge"
    assert ids.payout_idempotency_key("vo_1") == "vo_1:payout"
    assert ids.connected_account_idempotency_key("ven_1") == "vendor:ven_1:account"
    assert ids.stripe_event_dedup_key("evt_1") == "stripe:evt_1"


def test_new_records_get_fresh_ids_of_their_kind() -> None:
    for make, prefix in (
        (ids.new_vendor_id, "ven_"),
        (ids.new_warehouse_id, "wh_"),
        (ids.new_api_key_id, "key_"),
    ):
        first, second = make(), make()
        assert first != second
        assert re.fullmatch(prefix + "[0-9a-f]{16}", first)
