"""Reading a Prometheus endpoint in tests: every sample, and one value by labels."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


async def scrape(url: str) -> list[Sample]:
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(url)
    assert answer.status_code == 200, answer.text
    return [s for family in text_string_to_metric_families(answer.text) for s in family.samples]


def value(
    samples: list[Sample], name: str, labels: Mapping[str, str], *, total: bool = False
) -> float:
    """The sample `name` whose labels include `labels` (0 when absent); `total`: the sum of
    every such sample (a gauge split by a label the test does not name, e.g. currency)."""
    found = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    if total:
        return sum(found)
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0
