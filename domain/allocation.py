"""Which warehouses hold an order's stock: all lines or none.

Rule (the simple one #4 refines with distance, speed and cost): lines of the same SKU are
served together; a line goes whole to the warehouse with the most available stock that can
fill it (ties to the lowest warehouse id, so the answer is deterministic); when no warehouse
can fill it alone, it is split across warehouses from the most available down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StockNeed:
    line_no: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class Allocated:
    line_no: int
    sku: str
    warehouse_id: str
    quantity: int


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


def allocate_stock(
    needs: Sequence[StockNeed], available: Mapping[str, Mapping[str, int]]
) -> tuple[list[Allocated], list[Shortage]]:
    """`available` maps sku -> warehouse id -> units free. Returns allocations, or shortages."""
    requested: dict[str, int] = {}
    for need in needs:
        requested[need.sku] = requested.get(need.sku, 0) + need.quantity
    shortages = [
        Shortage(sku, qty, sum(max(v, 0) for v in available.get(sku, {}).values()))
        for sku, qty in requested.items()
        if sum(max(v, 0) for v in available.get(sku, {}).values()) < qty
    ]
    if shortages:
        return [], shortages
    free = {sku: dict(levels) for sku, levels in available.items()}
    result: list[Allocated] = []
    for need in needs:
        levels = free[need.sku]
        ranked = sorted(levels.items(), key=lambda item: (-item[1], item[0]))
        whole = [wh for wh, units in ranked if units >= need.quantity]
        if whole:
            levels[whole[0]] -= need.quantity
            result.append(Allocated(need.line_no, need.sku, whole[0], need.quantity))
            continue
        remaining = need.quantity
        for wh, units in ranked:
            take = min(units, remaining)
            if take <= 0:
                continue
            levels[wh] -= take
            remaining -= take
            result.append(Allocated(need.line_no, need.sku, wh, take))
            if remaining == 0:
                break
    return result, []
