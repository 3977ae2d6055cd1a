"""A supplier sends its stock file from a shell (`fulfillment inventory feed FILE`): through
the API with its vendor key, against the running stack found by its data folder, followed to
the end; what it did and each refused row are printed, and the exit code says which."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from devstack.stack import DevStack
from tests.devstack.test_cli_devstack import clean_env, fulfillment
from tests.e2e.client import inventory, onboard, stock_product


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def test_a_supplier_sends_its_stock_file_and_reads_what_was_refused(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    seller = await onboard(api, "Feed Shell", email="feedshell@example.com")
    sku = await stock_product(api, seller, price_cents=500, on_hand=1)
    other = await stock_product(api, seller, price_cents=600, on_hand=0)
    file = tmp_path / "stock.csv"
    file.write_text(
        "sku,warehouse_id,quantity\n"
        f"{sku},{seller.warehouse_id},40\n"
        f"{other},{seller.warehouse_id},-3\n"
        f"NO-SUCH-SKU,{seller.warehouse_id},5\n"
    )
    args = ("--data-dir", str(stack.data_dir), "inventory", "feed", str(file), "--as-of", now())

    done = await asyncio.to_thread(
        fulfillment, *args, "--key", seller.key, cwd=tmp_path, env=clean_env()
    )

    # Rows were refused: exit 1, each named by its line, then the feed's figures.
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout.strip().splitlines()
    assert said[0].startswith(f"line 3: negative_quantity ({other})"), said
    assert said[1].startswith("line 4: unknown_sku (NO-SUCH-SKU)"), said
    assert said[-1].startswith("feed ") and said[-1].split(":")[1].startswith(
        " 3 rows, 1 applied, 0 unchanged, 2 refused"
    ), said
    assert (await inventory(api, sku))["on_hand"] == 40

    clean = tmp_path / "clean.jsonl"
    clean.write_text(
        f'{{"sku": "{sku}", "warehouse_id": "{seller.warehouse_id}", "quantity": 41}}\n'
    )
    args = ("--data-dir", str(stack.data_dir), "inventory", "feed", str(clean), "--as-of", now())
    ok = await asyncio.to_thread(
        fulfillment, *args, cwd=tmp_path, env=clean_env(FULFILLMENT_VENDOR_KEY=seller.key)
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (await inventory(api, sku))["on_hand"] == 41


async def test_a_file_the_api_refuses_whole_is_said_in_one_line(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    seller = await onboard(api, "Feed Refused", email="feedrefused@example.com")
    file = tmp_path / "stock.csv"
    file.write_text("sku,warehouse_id,quantity\n")
    args = (
        "--data-dir",
        str(stack.data_dir),
        "inventory",
        "feed",
        str(file),
        "--as-of",
        "yesterday",
    )

    done = await asyncio.to_thread(
        fulfillment, *args, "--key", seller.key, cwd=tmp_path, env=clean_env()
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("the feed was refused: 422 validation_error")
    )
    wrong = await asyncio.to_thread(
        fulfillment,
        *args[:-2],
        "--as-of",
        now(),
        "--key",
        "vk_not_a_key",
        cwd=tmp_path,
        env=clean_env(),
    )
    assert wrong.returncode == 2 and "401 unauthorized" in wrong.stderr, wrong.stderr
