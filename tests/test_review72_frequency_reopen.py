"""A count or release begun while another thread's failed ROLLBACK reopened the connection
(hrev72, review of hsto20's 99b026d).

``reserve_batch`` and ``release_sync`` took ``self._db`` before the store's lock; a
transaction whose ROLLBACK SQLite refused closes that connection and opens a new one
under the lock. One that had taken the old connection then ran on it, closed: "Cannot
operate on a closed database" — every call of its group BLOCKed (a count refused), or a
withdrawn call's reservation left counted, for a failure that was not theirs. The
interleaving is had on one thread: the clock (read by ``reserve_batch`` after it took the
connection, before the lock) and the hasher (read by ``release_sync`` likewise) run the
other transaction, the one SQLite refuses, at that very point.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.frequency import EmbeddedFrequency
from tests.test_frequency import CLAIM, HASH, NOON

NUMBER = "+13055550123"


def _deny_insert_and_rollback(action: int, arg1: str | None, _arg2: str | None,
                              _db: str | None, _source: str | None) -> int:
    if action == sqlite3.SQLITE_INSERT and arg1 == "frequency":
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "ROLLBACK":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class _Interleave:
    """Runs, once, a reservation whose INSERT and ROLLBACK SQLite refuses: the store closes
    its connection and opens another."""

    def __init__(self) -> None:
        self.store: EmbeddedFrequency | None = None
        self.armed = False
        self.reopened = False

    def __call__(self) -> None:
        if not self.armed or self.store is None:
            return
        self.armed = False
        store = self.store
        old = store._db
        old.set_authorizer(_deny_insert_and_rollback)
        with pytest.raises(StoreError, match="ROLLBACK failed too"):
            store.reserve_sync("+13055550999", (CLAIM,), NOON)
        self.reopened = store._db is not old


def _store(path: Path, interleave: _Interleave) -> EmbeddedFrequency:
    def clock() -> datetime:
        interleave()
        return NOON

    def hasher(e164: str) -> str:
        if e164 == NUMBER:
            interleave()
        return HASH(e164)

    hashing: Callable[[str], str] = hasher
    store = EmbeddedFrequency(path, hashing, retention_s=86_400, clock=clock)
    interleave.store = store
    return store


async def test_a_count_begun_before_another_threads_reopen_runs_on_the_new_one(
        tmp_path: Path) -> None:
    interleave = _Interleave()
    store = _store(tmp_path / "frequency.sqlite3", interleave)
    try:
        interleave.armed = True
        result = store.reserve_sync(NUMBER, (CLAIM,), NOON)
        assert interleave.reopened
        assert result.refused is None
        assert result.counts == (0,)
        assert (await store.count(NUMBER, [CLAIM], NOON)) == (1,)
    finally:
        await store.aclose()


async def test_a_release_begun_before_another_threads_reopen_runs_on_the_new_one(
        tmp_path: Path) -> None:
    interleave = _Interleave()
    store = _store(tmp_path / "frequency.sqlite3", interleave)
    try:
        result = store.reserve_sync(NUMBER, (CLAIM,), NOON)
        assert result.held is not None
        interleave.armed = True
        assert store.release_sync(NUMBER, result.held) == 1
        assert interleave.reopened
        assert (await store.count(NUMBER, [CLAIM], NOON)) == (0,)
    finally:
        await store.aclose()


@contextlib.contextmanager
def _no_descriptor_left() -> Iterator[None]:
    """The process's descriptor limit lowered under those open: every open() fails EMFILE,
    as on a node serving more connections than its limit allows, for a moment."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_connection_not_reopened_at_once_is_reopened_at_the_next_count(
        tmp_path: Path) -> None:
    """The reopen after a refused ROLLBACK failed (no descriptor left, for a moment): the
    store stayed on the closed connection, every later count refused ("Cannot operate on
    a closed database") — every call a cap covers BLOCKed until the node was restarted."""
    store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", HASH, retention_s=86_400)
    try:
        store._db.set_authorizer(_deny_insert_and_rollback)
        with _no_descriptor_left(), pytest.raises(StoreError) as refused:
            store.reserve_sync(NUMBER, (CLAIM,), NOON)
        assert "could not be opened again" in str(refused.value)
        result = store.reserve_sync(NUMBER, (CLAIM,), NOON)
        assert result.refused is None
        assert result.counts == (0,)
        assert store.count_batch([(NUMBER, (CLAIM,), NOON)]) == [(1,)]
    finally:
        asyncio.run(store.aclose())
