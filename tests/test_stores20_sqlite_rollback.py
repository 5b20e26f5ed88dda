"""A record write or count whose ROLLBACK SQLite refuses, and SQLITE_LOCKED worded (hsto20).

A write failing inside its transaction is rolled back. When SQLite refused the ROLLBACK as
well, its raw error left the store (callguard:internal-error, naming nothing), and the
writer stayed inside the half-done transaction: the write lock held (another process's
writes waited, then failed), every later write here refused. The refusals are SQLite's own:
an authorizer (``Connection.set_authorizer``) denies the second write's INSERT and the
ROLLBACK, as SQLite denies statements it will not run.

"database table is locked" (SQLITE_LOCKED) is a conflict inside one process; it was worded
as "another process has held its write lock" — the operator looks for a process that does
not exist.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.reasons import sqlite_reason
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc, RecordEbr
from tests.test_frequency import CLAIM, HASH, NOON

AT = datetime(2026, 12, 1, tzinfo=UTC)
DNC = AddCompanyDnc("beehive-solar", "+18015550123", AT, "t")
EBR = RecordEbr("beehive-solar", "+18015550124", last_transaction=date(2026, 11, 2))


def _deny_ebr_insert_and_rollback(action: int, arg1: str | None, arg2: str | None,
                                  _db: str | None, _source: str | None) -> int:
    if action == sqlite3.SQLITE_INSERT and arg1 == "ebr":
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "ROLLBACK":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _other_process_writes(path: Path) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3
        db = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=1)
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        print("wrote")
        """)], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() or done.stderr.strip()


async def test_a_refused_rollback_is_a_store_error_and_undoes_the_write(tmp_path: Path
                                                                        ) -> None:
    path = tmp_path / "records.sqlite3"
    store = EmbeddedRecords(path)
    try:
        store._writer.set_authorizer(_deny_ebr_insert_and_rollback)
        with pytest.raises(StoreError) as refused:
            await store.apply([DNC, EBR])
        text = str(refused.value)
        assert "not authorized" in text
        assert "ROLLBACK failed too" in text
        assert "+18015550123" not in text
        # Nothing of it kept, the write lock let go, and the store writes again
        assert await store.company_dnc("beehive-solar", "+18015550123") is None
        assert _other_process_writes(path) == "wrote"
        assert await store.apply([DNC, EBR]) == (1, 1)
        assert await store.company_dnc("beehive-solar", "+18015550123") is not None
    finally:
        store.close()


def test_database_table_is_locked_is_not_another_process(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("CREATE TABLE t (a)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(4)])
        reading = db.execute("SELECT a FROM t")
        reading.fetchone()
        with pytest.raises(sqlite3.OperationalError) as locked:
            db.execute("DROP TABLE t")  # a real SQLITE_LOCKED
        reason = sqlite_reason(locked.value, path)
        assert "database table is locked" in reason
        assert "another process has held" not in reason
        assert "inside this process" in reason
    finally:
        db.close()


def _deny_count_insert_and_rollback(action: int, arg1: str | None, arg2: str | None,
                                    _db: str | None, _source: str | None) -> int:
    if action == sqlite3.SQLITE_INSERT and arg1 == "frequency":
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "ROLLBACK":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


async def test_a_refused_rollback_of_a_count_lets_the_store_count_again(tmp_path: Path
                                                                        ) -> None:
    """The call-frequency store passed over a refused ROLLBACK: its connection stayed in
    the transaction, the write lock held, and every later reservation (every call a cap
    covers, on every process of the node) was BLOCKed until a restart."""
    path = tmp_path / "frequency.sqlite3"
    store = EmbeddedFrequency(path, HASH, retention_s=86_400)
    try:
        store._db.set_authorizer(_deny_count_insert_and_rollback)
        with pytest.raises(StoreError) as refused:
            await store.reserve("+13055550123", [CLAIM], NOON)
        text = str(refused.value)
        assert "not counted" in text
        assert "ROLLBACK failed too" in text
        assert "3055550123" not in text
        assert _other_process_writes(path) == "wrote"
        result = await store.reserve("+13055550123", [CLAIM], NOON)
        assert result.refused is None
        assert result.counts == (0,)  # the failed one left no row
    finally:
        await store.aclose()
