"""Does an order exist? One query for every checkout the gate refused in the same moment.

A checkout the Redis gate refuses is looked up in the order store before the refusal stands:
past the gate's memory (or after Redis lost it) a retry of a known key must get its order,
never a 409. In a flash sale that is hundreds of lookups a second for keys that are all new,
and one ORM read each was the largest part of the API's CPU per refusal (py-spy, issue 10).
Lookups that arrive within `WINDOW_SECONDS` of each other share one
`SELECT id FROM orders WHERE id = ANY(...)`; each caller still waits at most its own bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import DATABASE_DOWN
from models.order import Order
from stores.db import execute_sql

WINDOW_SECONDS = 0.002
# A batch gives up after this long (a store that hangs): its waiters have given up already.
BATCH_SECONDS = 1.0
_EXISTING = text(f"SELECT id FROM {Order.__tablename__} WHERE id = ANY(:ids)")


class KnownOrders:
    def __init__(
        self, sessions: Callable[[], AsyncSession], *, window: float = WINDOW_SECONDS
    ) -> None:
        self._sessions = sessions
        self._window = window
        self._waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self._batch: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self.queries = 0  # how many queries answered the lookups (tests read it)

    async def exists(self, order_id: str, *, within: float) -> bool | None:
        """True or False, or None when the store could not tell within `within` seconds
        (down, slow): the caller decides what an unknown means."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(order_id, []).append(future)
        if self._batch is None:
            self._batch = asyncio.create_task(self._answer_batch())
            self._running.add(self._batch)
            self._batch.add_done_callback(self._running.discard)
        try:
            async with asyncio.timeout(within):
                return await asyncio.shield(future)
        except TimeoutError:
            return None
        except DATABASE_DOWN:
            return None

    async def close(self) -> None:
        """Wait for the batches still running (each ends within BATCH_SECONDS)."""
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _answer_batch(self) -> None:
        await asyncio.sleep(self._window)
        waiting, self._waiting, self._batch = self._waiting, {}, None
        try:
            async with asyncio.timeout(BATCH_SECONDS), self._sessions() as session:
                self.queries += 1
                rows = await execute_sql(session, _EXISTING, {"ids": list(waiting)})
                found = {row.id for row in rows}
        except Exception as error:  # every waiter learns the store could not tell
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
                    # Retrieved here, so an abandoned waiter's error is not logged as lost.
                    with contextlib.suppress(BaseException):
                        future.exception()
            return
        for order_id, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(order_id in found)
