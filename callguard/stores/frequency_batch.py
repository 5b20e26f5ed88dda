"""Group commit for call-frequency reservations: the ones in flight together go as one.

A reservation is a write that must be durable before the call is allowed, and a durable
write waits for an fsync (Redis ``appendfsync always``, SQLite ``synchronous=FULL``).
Paying one fsync per decision made the cap cost most of the decision rate. So a node
queues the reservations of its calls; while one group is being written, the ones that
arrive wait and go together in the next — one Lua script on Redis, one transaction
embedded — and none is answered before its group is. The store makes the group's
reservations in arrival order, each seeing the ones before it, so a group decides exactly
what the same reservations made one by one would (two checks of one number in one group:
the second sees the first).

The first reservation of an idle node goes at the loop's next turn (no timer: an idle node adds no
latency); a group holds at most ``limit`` reservations, so one script or transaction stays
short. A group that fails fails every reservation in it (StoreError: the gate BLOCKs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from callguard.errors import StoreError

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")

# (the group's items, in arrival order) -> one result per item, in the same order.
Commit = Callable[[Sequence[Item]], Awaitable[Sequence[Result]]]


class GroupCommit(Generic[Item, Result]):
    """Queue items; one task commits the waiting ones together and answers each.

    The task runs at its turn, after the decisions already ready to run on the loop: they
    reach their reservation first and join the group. When a group is answered, the task
    goes on with the ones that arrived meanwhile, and ends when none waits.
    """

    def __init__(self, commit: Commit[Item, Result], *, limit: int, what: str) -> None:
        if limit < 1:
            raise ValueError(f"a group holds at least one reservation, not {limit}")
        self._commit = commit
        self._limit = limit
        self._what = what
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """``item``'s result, once the group it went in is committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    def submit_many(self, items: Sequence[Item]) -> list[asyncio.Future[Result]]:
        """Queue ``items`` at once; a future each, answered when its group is committed
        (for callers that wait for none of them: the counts after an answer). One future
        per item instead of one task each: a task per count cost more than its insert."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = []
        for item in items:
            future: asyncio.Future[Result] = loop.create_future()
            self._pending.append((item, future))
            futures.append(future)
        if futures and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush())
        return futures

    async def _answers(self, items: list[Item]) -> Sequence[Result]:
        results = await self._commit(items)
        if len(results) != len(items):
            raise StoreError(f"{self._what}: {len(results)} answers for {len(items)} "
                             "reservations; none is trusted")
        return results

    async def _flush(self) -> None:
        while self._pending:
            group = self._pending[:self._limit]
            del self._pending[:self._limit]
            try:
                results = await self._answers([item for item, _ in group])
            except BaseException as exc:  # every waiter gets the failure (BLOCK)
                self._fail(group, exc)
                if not isinstance(exc, Exception):  # cancelled: fail the rest too, stop
                    self._fail(self._pending, exc)
                    self._pending.clear()
                    raise
                continue
            for (_, future), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _fail(self, group: list[tuple[Item, asyncio.Future[Result]]],
              exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, StoreError) else (
            f"{self._what}: {type(exc).__name__}; the call was not counted")
        for _, future in group:
            if not future.done():
                future.set_exception(StoreError(message))
