"""The dashboard and the alert rules in docs/ graph and alert on metrics the endpoints serve:
a renamed metric would otherwise leave an empty panel or an alert that never fires."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devstack.stack import DevStack
from domain.attention import AttentionReason
from tests.e2e.client import onboard, order_body, place, stock_product

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Unpacked from Debian's prometheus package by `make promtool` (part of `make test`).
PROMTOOL = ROOT / ".venv" / "bin" / "promtool"
METRIC = re.compile(r"\b((?:fulfillment|temporal)_[a-z0-9_]+)")
# The names a family's samples take in PromQL, by its type.
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum")}
# Carried by the order workflow's search attribute only, never by a vendor order's row.
ORDER_ONLY = {AttentionReason.VENDOR_ORDER_FAILED}


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _served(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return names


def test_every_dashboard_panel_queries_something_and_every_alert_says_what_and_how_bad() -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) >= 10 and all(METRIC.search(expr) for expr in exprs)
    rules = _alert_rules()
    assert rules
    for rule in rules:
        assert rule["alert"].startswith("Fulfillment"), rule
        assert METRIC.search(rule["expr"]), rule
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule
        assert rule["annotations"]["summary"], rule


def test_every_reason_a_vendor_order_needs_a_person_for_has_an_alert() -> None:
    alerted = " ".join(rule["expr"] for rule in _alert_rules())
    missing = [r.value for r in AttentionReason if r not in ORDER_ONLY and r.value not in alerted]
    assert missing == []


async def test_every_metric_the_dashboard_and_the_alerts_use_is_served(stack: DevStack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        # One order, so the worker's Temporal task histograms have been observed.
        seller = await onboard(api, "Graphed")
        sku = await stock_product(api, seller, price_cents=1000, on_hand=2)
        assert (await place(api, order_body([(sku, 1)]))).status_code == 201
        api_text = (await api.get("/metrics")).text
        worker_text = (await api.get(stack.worker_metrics_url)).text
    served = _served(api_text) | _served(worker_text)
    used = {
        name
        for expr in [*_dashboard_exprs(), *(rule["expr"] for rule in _alert_rules())]
        for name in METRIC.findall(expr)
    }
    assert used - served == set()
    # Both kinds are there: the business's own and the Temporal SDK's.
    assert any(n.startswith("temporal_") for n in used)
    assert any(n.startswith("fulfillment_") for n in used)


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.is_file(), "promtool is needed: `make promtool` unpacks it from Debian's"
    return subprocess.run(
        [str(PROMTOOL), *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_alert_rules() -> None:
    checked = promtool("check", "rules", str(DOCS / "prometheus-alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_alert_rules())} rules found" in checked.stdout


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # Grafana's own variables are not PromQL: replaced by what Grafana puts there.
    exprs = [expr.replace("$__rate_interval", "1m") for expr in _dashboard_exprs()]
    assert not any("$" in expr for expr in exprs), exprs
    # promtool has no "check expression": each query becomes a recording rule it parses.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:panel{n}", "expr": e} for n, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_both_metrics_endpoints_pass_promtool(stack: DevStack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api:
        seller = await onboard(api, "Linted")
        sku = await stock_product(api, seller, price_cents=1000, on_hand=2)
        assert (await place(api, order_body([(sku, 1)]))).status_code == 201
        scraped = {
            "api": (await api.get("/metrics")).text,
            "worker": (await api.get(stack.worker_metrics_url)).text,
        }
    for process, text in scraped.items():
        checked = promtool("check", "metrics", stdin=text)
        assert checked.returncode == 0, (process, checked.stdout + checked.stderr)
