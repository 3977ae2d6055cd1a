"""The API's metrics when several processes serve one port (FULFILLMENT_API_WORKERS > 1).

Each process has its own counters; a scrape reaches one process, picked by the kernel, so
without more each scrape would show a different process's part, and a rate() would jump
between them. prometheus_client's multiprocess mode keeps every process's values in files
of one folder (PROMETHEUS_MULTIPROC_DIR), and /metrics sums them (api/routers/health.py).
The folder is made empty for each start of the API: values of an earlier run must not be
added to this one's. A process that dies and is restarted keeps its counts in its files, so
totals never go down while the API runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_dir() -> Iterator[str]:
    """A fresh folder for this API's processes (set before they start: prometheus_client
    reads the variable when it is imported), removed when the API stops."""
    folder = tempfile.mkdtemp(prefix="fulfillment-api-metrics-")
    os.environ[VARIABLE] = folder
    try:
        yield folder
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(folder, ignore_errors=True)


def multiprocess() -> bool:
    return bool(os.environ.get(VARIABLE))
