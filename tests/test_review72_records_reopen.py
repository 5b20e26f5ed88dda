"""A record store whose write connection could not be opened again at once (hrev72,
review of hsto20's bded514).

A write whose ROLLBACK SQLite refuses closes the write connection (ending the transaction
unwritten) and opens another. When that failed — no descriptor left, for a moment, as on
a node serving more connections than its limit allows — every later write was refused
until the node was restarted, though what stopped the opening had passed: opt-outs,
consents and company do-not-call entries not recorded. It is tried again at the next
write. The refusals are SQLite's own (an authorizer denies the INSERT and the ROLLBACK)
and the kernel's (EMFILE, the descriptor limit lowered under those open).
"""

from __future__ import annotations

import contextlib
import resource
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.records import EmbeddedRecords, _statements
from callguard.stores.writes import AddCompanyDnc, RecordEbr

AT = datetime(2026, 12, 1, tzinfo=UTC)
DNC = AddCompanyDnc("beehive-solar", "+18015550123", AT, "t")
EBR = RecordEbr("beehive-solar", "+18015550124", last_transaction=date(2026, 11, 2))


def _deny_ebr_insert_and_rollback(action: int, arg1: str | None, _arg2: str | None,
                                  _db: str | None, _source: str | None) -> int:
    if action == sqlite3.SQLITE_INSERT and arg1 == "ebr":
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "ROLLBACK":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@contextlib.contextmanager
def _no_descriptor_left() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_writer_not_reopened_at_once_is_reopened_at_the_next_write(
        tmp_path: Path) -> None:
    store = EmbeddedRecords(tmp_path / "records.sqlite3")
    try:
        store._writer.set_authorizer(_deny_ebr_insert_and_rollback)
        with _no_descriptor_left(), pytest.raises(StoreError) as refused:
            # apply's own work, on this thread (the thread pool's first use imports a module)
            store._write_sync([_statements(DNC), _statements(EBR)])
        assert "could not be opened again" in str(refused.value)
        assert "+18015550123" not in str(refused.value)
        assert await store.apply([DNC, EBR]) == (1, 1)
        assert await store.company_dnc("beehive-solar", "+18015550123") is not None
    finally:
        store.close()

