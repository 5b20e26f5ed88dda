"""Opening an embedded store's file: a first opening racing another process is retried."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.opening import open_wal
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.embedded.tallies import EmbeddedTallies

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"


def test_a_locked_opening_is_retried_whole(tmp_path):
    """SQLite answers "database is locked" without waiting when two first openers race
    (switching to WAL, creating tables): the opening is tried again from the start, so the
    answer is a connection, not that error (without the retry the first error would be)."""
    path = tmp_path / "s.sqlite3"
    tries = []

    def racing(db: sqlite3.Connection) -> None:
        tries.append(db)
        if len(tries) < 3:
            raise sqlite3.OperationalError("database is locked")

    slept = []
    db = open_wal(path, SCHEMA, timeout_s=5.0, migrate=racing, sleep=slept.append)
    with contextlib.closing(db):
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert len(tries) == 3
    assert len(slept) == 2
    with pytest.raises(sqlite3.ProgrammingError):  # the failed tries' connections are closed
        tries[0].execute("SELECT 1")


def test_a_lock_that_stays_is_an_error_after_the_timeout(tmp_path):
    path = tmp_path / "s.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        open_wal(path, SCHEMA, timeout_s=0.1, sleep=lambda _s: None)
    holder.close()


def test_other_errors_are_not_retried(tmp_path):
    path = tmp_path / "s.sqlite3"
    with pytest.raises(sqlite3.OperationalError, match=r"incomplete input|syntax"):
        open_wal(path, "CREATE TABLE nonsense (", timeout_s=5.0,
                 sleep=lambda _s: pytest.fail("retried"))


def _open_store(kind: str, path: str, ready, go) -> None:
    ready.wait()
    go.wait()
    if kind == "records":
        asyncio.run(EmbeddedRecords(Path(path)).aclose())
    elif kind == "frequency":
        EmbeddedFrequency(Path(path), str, retention_s=2 * 86_400)._db.close()
    else:
        EmbeddedTallies(Path(path))._db.close()


@pytest.mark.parametrize("kind", ["records", "frequency", "tallies"])
def test_processes_opening_a_new_store_at_once_all_open_it(tmp_path, kind):
    """Five processes open one new file at once: every one opens it (a CI run once lost a
    process to the race for WAL and the schema)."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        path = str(tmp_path / f"{kind}-{round_}.sqlite3")
        ready, go = context.Barrier(6), context.Event()
        workers = [context.Process(target=_open_store, args=(kind, path, ready, go))
                   for _ in range(5)]
        for worker in workers:
            worker.start()
        ready.wait()
        go.set()
        for worker in workers:
            worker.join(30)
        assert [w.exitcode for w in workers] == [0] * 5
