"""The README's walk-through, "a vendor has not been paid: why?", as an operator sees it: the
Temporal Web UI of a real dev stack, in a real headless browser (Debian's chromium, driven by
selenium), shows the vendor order's current details. The screenshot it takes becomes the
README's picture (docs/images/temporal-ui-payout-refused.png) when UPDATE_PICTURES=1 is set
(`UPDATE_PICTURES=1 make test`); otherwise it stays in the test's folder, so a test run never
leaves the checkout changed."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from devstack.stack import DevStack
from tests.e2e.money import payout_refused

PICTURE = Path(__file__).parents[2] / "docs" / "images" / "temporal-ui-payout-refused.png"
# Debian's packages (Makefile, `browser`): a test that cannot find them fails, never skips.
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def rendered(driver: webdriver.Chrome) -> list[str]:
    """The texts the UI renders in its markdown frames (summary, current details), once the
    current details say the payout was refused; [] before."""
    texts = []
    for frame in driver.find_elements(By.CSS_SELECTOR, "iframe[title='output']"):
        driver.switch_to.frame(frame)
        try:
            texts.append(" ".join(driver.find_element(By.TAG_NAME, "body").text.split()))
        finally:
            driver.switch_to.default_content()
    return texts if any(text.startswith("payout to") for text in texts) else []


def open_metadata(driver: webdriver.Chrome) -> bool:
    """Click the "User Metadata" tab (again: a click while the page still loads is lost)."""
    for tab in driver.find_elements(By.CSS_SELECTOR, "[data-testid='user-metadata-tab']"):
        tab.click()
    return False


def browser() -> webdriver.Chrome:
    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), (
        "Debian's chromium and chromium-driver are needed: `make browser` installs them"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1500,1100"):
        options.add_argument(argument)
    # The driver given by path: selenium would otherwise try to download one.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


async def test_an_operator_sees_in_the_temporal_ui_why_a_vendor_was_not_paid(
    api: httpx.AsyncClient, stack: DevStack, tmp_path: Path
) -> None:
    ui_port = stack.ports.temporal_ui
    assert ui_port is not None, "the tests' dev stack runs the Web UI (tests/conftest.py)"
    refused = payout_refused(api, stack, "Brakes Co", 4200, email="brakes@example.com")
    async with refused as (sku, order):
        vo = order["vendor_orders"][0]
        taken = tmp_path / PICTURE.name
        await picture(ui_port, vo["workflow_id"], order["id"], sku, taken)
    assert taken.stat().st_size > 10_000  # a rendered page, not an empty frame
    if os.environ.get("UPDATE_PICTURES") == "1":
        shutil.copyfile(taken, PICTURE)


async def picture(ui_port: int, workflow_id: str, order_id: str, sku: str, to: Path) -> None:
    """Open the vendor order's page, then its "User Metadata" tab (summary and current
    details), check what it says, and save the picture."""
    page = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{workflow_id}"
    driver = await asyncio.to_thread(browser)
    try:
        await asyncio.to_thread(driver.get, page)
        shown = await asyncio.to_thread(
            WebDriverWait(driver, 60, poll_frequency=1).until,
            lambda d: rendered(d) or open_metadata(d),
        )
        current = next(text for text in shown if text.startswith("payout to"))
        # What it waits for and what to do, as the operator reads it
        assert current.startswith("payout to Brakes Co refused (")
        assert "next try at " in current and current.endswith("or now with retry-payout")
        summary = f"Brakes Co's part of {order_id}: 1 x {sku}"
        assert summary in " ".join(shown).replace("\u2019", "'")
        assert await asyncio.to_thread(driver.save_screenshot, str(to))
    finally:
        await asyncio.to_thread(driver.quit)
