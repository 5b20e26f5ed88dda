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

The first reservation of an idle node goes at once (no timer: an idle node adds no
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
    """Queue items; commit the waiting ones together, one group at a time, and answer each.

    Driven by callbacks: a group is started in the call that finds the store idle, and the
    next one in the callback that answers the last, before that group's callers resume.
    A commit coroutine runs at its task's turn, so the decisions already ready to run on
    the loop reach their reservation first and join the group.
    """

    def __init__(self, commit: Commit[Item, Result], *, limit: int, what: str) -> None:
        if limit < 1:
            raise ValueError(f"a group holds at least one reservation, not {limit}")
        self._commit = commit
        self._limit = limit
        self._what = what
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: asyncio.Future[Sequence[Result]] | None = None

    async def submit(self, item: Item) -> Result:
        """``item``'s result, once the group it went in is committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._running is None:
            self._start()
        return await future

    def _start(self) -> None:
        group = self._pending[:self._limit]
        del self._pending[:self._limit]
        try:
            # held in self._running until its callback has answered the group
            self._running = asyncio.ensure_future(  # noqa: RUF006 - it is held, see above
                self._commit([item for item, _ in group]))
        except Exception as exc:  # noqa: BLE001 - every waiter gets the failure (BLOCK)
            self._fail(group, exc)
            if self._pending:
                self._start()
            return
        self._running.add_done_callback(lambda done: self._finish(group, done))

    def _finish(self, group: list[tuple[Item, asyncio.Future[Result]]],
                done: asyncio.Future[Sequence[Result]]) -> None:
        self._running = None
        if self._pending:
            self._start()  # the next group goes before this one's callers resume
        if done.cancelled():
            self._fail(group, StoreError(f"{self._what}: cancelled; not known to be counted"))
            return
        exc = done.exception()
        results = done.result() if exc is None else ()
        if exc is None and len(results) != len(group):
            exc = StoreError(f"{self._what}: {len(results)} answers for {len(group)} "
                             "reservations; none is trusted")
        if exc is not None:
            self._fail(group, exc)
            return
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
