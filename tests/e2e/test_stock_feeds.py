"""Suppliers' stock feeds through the API (issue 13, part 3): absolute levels applied by a
workflow, audited, kept in step with the admission gate, never moved back in time by an
older feed, applied once however often sent."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from bench.stock_feed import levels as levels_of
from bench.stock_feed import vendor_with_catalog, walk_inventory
from tests.conftest import E2E_FEED_MAX_BYTES
from tests.e2e.client import (
    OPS,
    Seller,
    add_warehouse,
    inventory,
    onboard,
    order_body,
    place,
    stock_product,
    unique,
)
from tests.e2e.feeds import (
    NDJSON,
    apply,
    csv_body,
    finished,
    levels,
    minutes_ago,
    movements,
    ndjson_body,
    new_product,
    send,
)


async def test_a_feed_sets_absolute_levels_audited_and_shown_in_the_vendors_inventory(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Feeder")
    west = await add_warehouse(api, seller)
    counted = await stock_product(api, seller, price_cents=1000, on_hand=5)
    fresh = await new_product(api, seller, unique("FRESH"))
    main = seller.warehouse_id
    feed = await apply(
        api,
        seller,
        csv_body((counted, main, 5), (counted, west, 12), (fresh, main, 0), (fresh, west, 7)),
        minutes_ago(1),
    )
    assert feed["status"] == "succeeded"
    assert (feed["rows_total"], feed["rows_applied"], feed["rows_unchanged"]) == (4, 2, 2)
    assert (feed["rows_refused"], feed["refusals"], feed["refusals_has_more"]) == (0, [], False)
    assert feed["started_at"] is not None and feed["finished_at"] is not None
    assert feed["duration_seconds"] >= 0
    assert await levels(api, seller) == {
        (counted, main): 5,
        (counted, west): 12,
        (fresh, main): 0,
        (fresh, west): 7,
    }
    moves = await movements(api, seller, fresh)
    assert [(m["actor"], m["reason"], m["warehouse_id"], m["on_hand_delta"]) for m in moves] == [
        (f"vendor:{seller.id}", f"stock feed {feed['id']}, line 5", west, 7)
    ]
    assert (moves[0]["on_hand_before"], moves[0]["on_hand_after"]) == (0, 7)
    assert len(await movements(api, seller, counted)) == 2  # the PUT, then the feed's line 3


async def test_json_lines_apply_as_csv_does(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Jsonl")
    sku = await new_product(api, seller, unique("JL"))
    feed = await apply(
        api, seller, ndjson_body((sku, seller.warehouse_id, 9)), minutes_ago(1), media_type=NDJSON
    )
    assert (feed["format"], feed["rows_applied"]) == ("ndjson", 1)
    assert await levels(api, seller) == {(sku, seller.warehouse_id): 9}


async def test_a_stale_feed_changes_nothing(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Stale")
    sku = await new_product(api, seller, unique("ST"))
    other = await new_product(api, seller, unique("ST"))
    wh = seller.warehouse_id
    newer = await apply(api, seller, csv_body((sku, wh, 7)), minutes_ago(1))
    assert newer["rows_applied"] == 1
    before = await movements(api, seller, sku)
    older = await apply(api, seller, csv_body((sku, wh, 99), (other, wh, 3)), minutes_ago(10))
    assert (older["rows_applied"], older["rows_refused"]) == (1, 1)
    assert [(r["line"], r["sku"], r["reason"]) for r in older["refusals"]] == [(2, sku, "stale")]
    assert await levels(api, seller, sku=sku) == {(sku, wh): 7}
    assert await movements(api, seller, sku) == before
    # A level no newer feed set takes the older feed's row: only newer truths win.
    assert await levels(api, seller, sku=other) == {(other, wh): 3}


async def test_the_same_feed_sent_twice_is_applied_once(api: httpx.AsyncClient) -> None:
    seller = await onboard(api, "Twice")
    sku = await new_product(api, seller, unique("TW"))
    wh = seller.warehouse_id
    body, as_of = csv_body((sku, wh, 4)), minutes_ago(1)
    first = await send(api, seller, body, as_of)
    assert first.status_code == 202, first.text
    await finished(api, seller, first.json()["id"])
    # The vendor counts by hand since; the old feed, sent again, must not undo it.
    put = await api.put(f"/v1/inventory/{sku}/{wh}", json={"on_hand": 50}, headers=seller.auth)
    assert put.status_code == 200
    again = await send(api, seller, body, as_of)
    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert (await finished(api, seller, again.json()["id"]))["rows_applied"] == 1
    assert await levels(api, seller) == {(sku, wh): 50}
    assert [m["on_hand_after"] for m in await movements(api, seller, sku)] == [50, 4]


async def test_an_idempotency_key_answers_its_feed_again_and_refuses_another_under_it(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Keyed")
    sku = await new_product(api, seller, unique("KY"))
    body, as_of, key = csv_body((sku, seller.warehouse_id, 6)), minutes_ago(1), uuid.uuid4().hex
    first = await send(api, seller, body, as_of, key=key)
    replayed = await send(api, seller, body, as_of, key=key)
    assert (first.status_code, replayed.status_code) == (202, 202)
    assert replayed.json() == first.json()
    assert replayed.headers["Location"] == first.headers["Location"]
    await finished(api, seller, first.json()["id"])
    other = await send(api, seller, body, minutes_ago(2), key=key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert len(await movements(api, seller, sku)) == 1


async def test_refused_rows_are_reported_with_line_and_reason_while_good_rows_apply(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Mixed")
    rival = await onboard(api, "Rival")
    good = await new_product(api, seller, unique("GD"))
    held = await stock_product(api, seller, price_cents=1000, on_hand=5)
    theirs = await stock_product(api, rival, price_cents=1000, on_hand=5)
    assert (await place(api, order_body([(held, 3)]))).status_code == 201
    wh = seller.warehouse_id
    body = csv_body(
        (good, wh, 8),  # line 2: applied
        ("NO-SUCH-SKU-" + uuid.uuid4().hex[:6], wh, 1),  # 3
        (theirs, rival.warehouse_id, 0),  # 4
        (good, rival.warehouse_id, 1),  # 5: a warehouse of another vendor
        (good, "wh_nowhere", 1),  # 6
        (held, wh, -2),  # 7
        (held, wh, "two"),  # 8
        (held, wh, 2),  # 9: 3 units are reserved
    )
    feed = await apply(api, seller, body, minutes_ago(1))
    assert (feed["rows_total"], feed["rows_applied"], feed["rows_refused"]) == (8, 1, 7)
    assert [(r["line"], r["reason"]) for r in feed["refusals"]] == [
        (3, "unknown_sku"),
        (4, "sku_of_another_vendor"),
        (5, "unknown_warehouse"),
        (6, "unknown_warehouse"),
        (7, "negative_quantity"),
        (8, "invalid_quantity"),
        (9, "below_reserved"),
    ]
    assert all(r["detail"] for r in feed["refusals"])
    assert await levels(api, seller) == {(good, wh): 8, (held, wh): 5}
    assert (await inventory(api, theirs))["on_hand"] == 5
    rival_view = await api.get(f"/v1/inventory/feeds/{feed['id']}", headers=rival.auth)
    assert (rival_view.status_code, rival_view.json()["code"]) == (404, "not_found")
    refusals = await api.get(f"/v1/inventory/feeds/{feed['id']}/refusals", headers=rival.auth)
    assert refusals.status_code == 404
    assert (await api.get(f"/v1/inventory/feeds/{feed['id']}", headers=OPS)).status_code == 200


async def test_every_refusal_pages_by_line_and_duplicates_are_all_refused(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "ManyBad")
    sku = await new_product(api, seller, unique("MB"))
    wh = seller.warehouse_id
    rows = [(sku, wh, 1), (sku, wh, 2)] + [(f"GHOST-{n}", wh, 1) for n in range(23)]
    feed = await apply(api, seller, csv_body(*rows), minutes_ago(1))
    assert (feed["rows_refused"], len(feed["refusals"]), feed["refusals_has_more"]) == (
        25,
        20,
        True,
    )
    assert [r["reason"] for r in feed["refusals"][:3]] == [
        "duplicate_row",
        "duplicate_row",
        "unknown_sku",
    ]
    walked, cursor = [], None
    while True:
        params = {"limit": 7, **({"starting_after": cursor} if cursor else {})}
        page = (await api.get(feed["refusals_url"], params=params, headers=seller.auth)).json()
        walked += [r["line"] for r in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert walked == list(range(2, 27))
    assert await levels(api, seller) == {}


async def test_the_gate_follows_a_feed_that_zeroes_stock_and_one_that_raises_it(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Gated")
    sku = await stock_product(api, seller, price_cents=1000, on_hand=5)
    wh = seller.warehouse_id
    await apply(api, seller, csv_body((sku, wh, 0)), minutes_ago(2))
    sold_out = await place(api, order_body([(sku, 1)]))
    assert (sold_out.status_code, sold_out.json()["code"]) == (409, "insufficient_stock")
    assert sold_out.json()["items"] == [{"sku": sku, "requested": 1, "available": 0}]
    await apply(api, seller, csv_body((sku, wh, 4)), minutes_ago(1))
    bought = await place(api, order_body([(sku, 2)]))
    assert bought.status_code == 201, bought.text
    level = await inventory(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (4, 2, 2)


async def test_bad_feeds_are_refused_whole_with_a_problem_and_change_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "BadFeeds")
    sku = await new_product(api, seller, unique("BF"))
    wh = seller.warehouse_id
    good = csv_body((sku, wh, 3))
    as_of = minutes_ago(1).isoformat()
    too_many = b"sku,warehouse_id,quantity\n" + f"{sku},{wh},1\n".encode() * 100_001

    async def post(
        when: str | None,
        body: bytes,
        media_type: str = "text/csv",
        auth: dict[str, str] = seller.auth,
    ) -> httpx.Response:
        params = {} if when is None else {"as_of": when}
        headers = {**auth, "Content-Type": media_type}
        return await api.post("/v1/inventory/feeds", params=params, content=body, headers=headers)

    cases = [
        (await post(as_of, good, "application/json"), 415, "unsupported_media_type"),
        (await post(None, good), 422, "validation_error"),
        (await post("2026-12-03T10:00:00", good), 422, "validation_error"),  # no offset
        (await post("2999-01-01T00:00:00Z", good), 422, "validation_error"),  # ahead
        (await post(as_of, too_many), 422, "validation_error"),
        (await post(as_of, b"sku,quantity\nA,1\n"), 422, "validation_error"),
        (await post(as_of, b""), 422, "validation_error"),
        (await post(as_of, good, auth=OPS), 403, "forbidden"),
        (await post(as_of, good + b"x" * E2E_FEED_MAX_BYTES), 413, "payload_too_large"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == code
    assert cases[4][0].json()["limit"] == 100_000
    assert cases[-1][0].json()["max_bytes"] == E2E_FEED_MAX_BYTES
    assert await levels(api, seller) == {}
    assert await movements(api, seller, sku) == []
    missing = await api.get("/v1/inventory/feeds/feed_nothing", headers=seller.auth)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


async def test_a_feed_that_takes_a_product_below_its_threshold_flags_the_movement_low(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "FeedLow")
    west = await add_warehouse(api, seller)
    created = await api.post(
        "/v1/products",
        json={
            "vendor_id": seller.id,
            "sku": unique("FL"),
            "title": "Scarce",
            "price_cents": 1000,
            "currency": "usd",
            "weight_grams": 100,
            "low_stock_threshold": 3,
        },
        headers=seller.auth,
    )
    sku = created.json()["sku"]
    main = seller.warehouse_id
    await apply(api, seller, csv_body((sku, main, 4), (sku, west, 2)), minutes_ago(2))
    # Two levels of one SKU in one batch: one alert, on the SKU's last movement.
    await apply(api, seller, csv_body((sku, main, 1), (sku, west, 1)), minutes_ago(1))
    first, last = sorted([main, west])  # a batch writes in (sku, warehouse) order
    before = {main: 4, west: 2}
    moves = await movements(api, seller, sku)
    assert [(m["warehouse_id"], m["on_hand_after"], m["low_stock"]) for m in moves] == [
        (last, 1, True),
        (first, 1, False),
        (last, before[last], False),
        (first, before[first], False),
    ]
    assert (await inventory(api, sku))["available"] == 2


async def test_a_vendor_lists_its_own_feeds_newest_first_page_by_page(
    api: httpx.AsyncClient,
) -> None:
    seller = await onboard(api, "Lister")
    rival = await onboard(api, "RivalLister")
    sku = await new_product(api, seller, unique("LF"))
    sent = [
        await apply(api, seller, csv_body((sku, seller.warehouse_id, n)), minutes_ago(10 - n))
        for n in range(3)
    ]
    await apply(api, rival, csv_body(("NONE", rival.warehouse_id, 1)), minutes_ago(1))
    first = (await api.get("/v1/inventory/feeds?limit=2", headers=seller.auth)).json()
    assert [f["id"] for f in first["data"]] == [sent[2]["id"], sent[1]["id"]]
    assert first["has_more"] is True
    rest = await api.get(
        "/v1/inventory/feeds",
        params={"limit": 2, "starting_after": first["next_cursor"]},
        headers=seller.auth,
    )
    assert [f["id"] for f in rest.json()["data"]] == [sent[0]["id"]]
    assert (rest.json()["has_more"], rest.json()["next_cursor"]) == (False, None)
    assert rest.json()["data"][0]["rows_applied"] == 0  # level 0 fed 0: unchanged


async def test_two_feeds_racing_for_the_same_levels_leave_the_newer_ones_levels(
    api: httpx.AsyncClient,
) -> None:
    catalog = await vendor_with_catalog(api, products=20, warehouses=10)
    pairs = [(sku, wh) for sku, wh, _ in levels_of(catalog, 200)]
    key = catalog.auth["Authorization"].removeprefix("Bearer ")
    seller = Seller(catalog.vendor_id, key, catalog.warehouses[0], account="")
    older = csv_body(*((sku, wh, 1) for sku, wh in pairs))
    newer = csv_body(*((sku, wh, 2) for sku, wh in pairs))
    old, new = await asyncio.gather(
        apply(api, seller, older, minutes_ago(2)), apply(api, seller, newer, minutes_ago(1))
    )
    assert (new["rows_applied"] + new["rows_unchanged"], new["rows_refused"]) == (200, 0)
    assert old["rows_applied"] + old["rows_refused"] == 200
    assert {r["reason"] for r in old["refusals"]} <= {"stale"}
    shown = await walk_inventory(api, catalog.auth)
    assert sorted(shown) == sorted((sku, wh, 2) for sku, wh in pairs)
