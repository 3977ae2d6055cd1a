"""The flash sale's printout (bench.flash_sale): each sale's answers, oversell and inventory
check, latencies and CPU, and issue 10's targets over every sale."""

from __future__ import annotations

import argparse
import os

from bench import format_latency, format_ratio, ratio, summarize
from bench.flash_sale_checkouts import RESOLVE_WITHIN, Sale
from bench.proc_stats import BENCH


def report_sale(sale: Sale, number: int, units: int) -> list[str]:
    """Prints one sale; returns what went wrong with it (oversold, stock disagreeing,
    answers never final)."""
    confirmed, refused, others = sale.of("confirmed"), sale.of("refused"), sale.others
    all_confirmed = sale.all_confirmed
    oversold = max(all_confirmed - units, 0)
    inventory = sale.inventory
    stock_ok = inventory["on_hand"] == units and inventory["reserved"] == all_confirmed
    print(f"sale {number} ({sale.sku})")
    print(f"  confirmed      {len(confirmed)}  (201)")
    print(f"  refused        {len(refused)}  (409 insufficient_stock)")
    print(f"  other answers  {sum(others.values())}")
    for label, count in sorted(others.items()):
        print(f"    {count:6d}  {label}")
    if sale.unresolved:
        print(f"    still unresolved after {RESOLVE_WITHIN:.0f}s: {len(sale.unresolved)}")
    print(f"  oversold       {oversold}  (confirmed {all_confirmed} - units {units})")
    unsold = max(units - all_confirmed, 0)
    if unsold and refused:
        print(f"  unsold         {unsold}  (units left while buyers were refused)")
    print(
        f"  inventory      on_hand {inventory['on_hand']} (was {units}), "
        f"reserved {inventory['reserved']} (confirmed {all_confirmed}): "
        f"{'ok' if stock_ok else 'MISMATCH'}"
    )
    print(f"  latency confirmed  {format_latency(summarize([a.seconds for a in confirmed]))}")
    print(f"  latency refused    {format_latency(summarize([a.seconds for a in refused]))}")
    for name, group in (("confirmed", confirmed), ("refused", refused)):
        inside = [a.server_seconds for a in group if a.server_seconds is not None]
        print(f"    of which in the API ({name}) {format_latency(summarize(inside))}")
    busy = "  ".join(
        f"{role} {seconds:.1f}"
        for role, seconds in sorted(sale.cpu_seconds.items(), key=lambda item: -item[1])
        if role != BENCH or seconds > 0
    )
    print(f"  CPU seconds    {busy}  (load generator: {BENCH}; {os.cpu_count()} CPUs)")
    print(
        f"  sent within    {sale.send_window:.2f} s; last answer after {sale.wall:.2f} s "
        f"({len(sale.attempts) / sale.wall:.1f} requests/s)"
    )
    return [
        reason
        for reason, failed in (
            (f"sale {number} OVERSOLD", oversold > 0),
            (f"sale {number}: the inventory disagrees with the answers", not stock_ok),
            (f"sale {number}: some checkouts never got a final answer", bool(sale.unresolved)),
        )
        if failed
    ]


def report_targets(sales: list[Sale], args: argparse.Namespace) -> None:
    """Issue 10's targets over every sale: each sells exactly its units and refuses the rest
    with nothing else answered; refusals answer in at most 50 ms at the median, and at most
    0.05x the confirmations' median (pooled over the sales)."""
    refused_p50 = summarize([a.seconds for s in sales for a in s.of("refused")])
    confirmed_p50 = summarize([a.seconds for s in sales for a in s.of("confirmed")])
    exact = all(
        len(s.of("confirmed")) == min(args.units, args.buyers)
        and len(s.of("refused")) == max(args.buyers - args.units, 0)
        for s in sales
    )
    others = sum(sum(s.others.values()) for s in sales)
    share = ratio(refused_p50.p50, confirmed_p50.p50) if refused_p50 and confirmed_p50 else None
    rows = [
        ("exactly the units confirmed, the rest refused, in every sale", "", exact),
        ("other answers (504, 5xx, dropped)", f"{others}", others == 0),
        (
            "refusal p50 <= 50 ms",
            f"{refused_p50.p50 * 1000:.1f} ms" if refused_p50 else "n/a",
            refused_p50 is not None and refused_p50.p50 <= 0.050,
        ),
        (
            "refusal p50 <= 0.05x confirmation p50",
            format_ratio(share),
            share is not None and share <= 0.05,
        ),
    ]
    print("targets (issue 10)")
    for name, figure, met in rows:
        print(f"  {name:62s} {figure:>10s}  {'met' if met else 'missed'}")
