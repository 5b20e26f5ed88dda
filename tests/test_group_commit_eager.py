"""The eager group commit: an idle queue's first reservation is committed at once, alone,
and the ones that arrive while it commits go together in the next group; each caller gets
its own answer, and a commit that cannot start fails its caller closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.frequency_batch import GroupCommit
from tests.test_frequency import CLAIM, HASH, NOON


def _recording(calls: list[list[int]], started: list[bool] | None = None,
               disk: threading.Event | None = None):
    """A commit that starts when called (a worker thread's future), as the embedded one;
    it returns once ``disk`` is set (the fsync)."""
    pool = ThreadPoolExecutor(1)

    def write(items: Sequence[int]) -> list[int]:
        if disk is not None:
            disk.wait(10)
        return [i * 10 for i in items]

    def commit(items: Sequence[int]) -> asyncio.Future[list[int]]:
        calls.append(list(items))
        if started is not None:
            started.append(True)
        return asyncio.get_running_loop().run_in_executor(pool, write, items)

    return commit


async def test_the_first_goes_alone_at_once_and_the_rest_together():
    calls: list[list[int]] = []
    started: list[bool] = []
    disk = threading.Event()
    group: GroupCommit[int, int] = GroupCommit(_recording(calls, started, disk), limit=64,
                                               what="counts", eager=True)
    first = asyncio.ensure_future(group.submit(0))
    await asyncio.sleep(0)  # the submit ran up to its wait: its commit has started
    assert started == [True]
    rest = [asyncio.ensure_future(group.submit(i)) for i in range(1, 5)]
    await asyncio.sleep(0)  # they wait, while the first commits
    disk.set()
    assert await asyncio.gather(first, *rest) == [0, 10, 20, 30, 40]
    assert calls == [[0], [1, 2, 3, 4]]


async def test_without_eager_one_group_at_the_next_turn():
    calls: list[list[int]] = []
    group: GroupCommit[int, int] = GroupCommit(_recording(calls), limit=64, what="counts")
    assert await asyncio.gather(*(group.submit(i) for i in range(5))) == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


async def test_a_commit_that_cannot_start_fails_its_caller_and_the_next_goes():
    calls: list[list[int]] = []
    state = {"broken": True}
    working = _recording(calls)

    def commit(items: Sequence[int]) -> asyncio.Future[list[int]]:
        if state["broken"]:
            raise RuntimeError("executor shut down")
        return working(items)

    group: GroupCommit[int, int] = GroupCommit(commit, limit=64, what="counts", eager=True)
    with pytest.raises(StoreError, match="not counted"):
        await group.submit(1)
    state["broken"] = False
    assert await group.submit(2) == 20


async def test_embedded_burst_eager_grants_exactly_the_cap_in_order(tmp_path):
    """Twenty reservations of one number at once, eager: the first alone, the rest in
    later groups; exactly three granted, counted 0, 1, 2, and the fourth call refused."""
    store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400)
    sizes: list[int] = []
    commit = store.reserve_batch

    def counting(batch):
        sizes.append(len(batch))
        return commit(batch)

    store.reserve_batch = counting  # type: ignore[method-assign]
    results = await asyncio.gather(*(store.reserve("+13055550123", [CLAIM], NOON)
                                     for _ in range(20)))
    assert sizes[0] == 1
    assert sum(sizes) == 20
    assert len(sizes) < 20
    assert [r.counts[0] for r in results if r.granted] == [0, 1, 2]
    assert sum(r.granted for r in results) == 3
    later = await store.reserve("+13055550123", [CLAIM], NOON + timedelta(minutes=1))
    assert not later.granted
    await store.aclose()
