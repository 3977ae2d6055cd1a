"""The CPU priority of the dev stack's background processes."""

from __future__ import annotations

from collections.abc import Mapping

from devstack.process import ServerStartError

# One machine runs the whole stack, so its processes share the cores. The worker and Temporal
# run the sagas, work that may wait its turn; the API answers people (a buyer refused in a
# flash sale while a hundred sagas confirm). At niceness 10 the worker and Temporal get about a
# tenth of the CPU the API gets when both want it, and all of it when the API is idle
# (bench/README.md, "Flash sale"). On a cluster each has cores of its own and this is moot.
BACKGROUND_NICENESS = "FULFILLMENT_BACKGROUND_NICENESS"
DEFAULT_BACKGROUND_NICENESS = 10


def background_niceness(source: Mapping[str, str]) -> int:
    given = source.get(BACKGROUND_NICENESS, str(DEFAULT_BACKGROUND_NICENESS))
    try:
        niceness = int(given)
    except ValueError:
        niceness = -1
    if not 0 <= niceness <= 19:
        raise ServerStartError(f"{BACKGROUND_NICENESS} is a whole number 0 to 19, not {given!r}")
    return niceness
