"""Archive and purge keep the closed segments the embedded counts' write-back still needs.

With counts proved by the log (``synchronous=NORMAL``), the records of a closed segment are
the only copy of commits an OS crash took from ``frequency.sqlite3`` until the next opener
writes them back. Real files: a node's runtime writes the records and crashes (its log stays
registered), a copy of the counts file taken before the last commits is put back (what a
power loss leaves), and a boot id other than the file's says the OS restarted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callguard.compliance.archive.ingest import archive_files
from callguard.compliance.archive.store import Archive
from callguard.compliance.counts_guard import counts_guard
from callguard.compliance.purge import purge_files
from callguard.compliance.segments import closed_segments
from callguard.compliance.sinks import close_segment
from callguard.stores.embedded.frequency import boot_id
from tests.test_frequency_proved import (
    _check,
    _count,
    _lists,
    _lose_commits,
    _store,
)

AFTER = "after the power loss"
NUMBERS = ["3055550123", "3055550123", "3055550124", "3055550124"]


async def _node_crashed(data: Path, *, lose: bool = True, crash: bool = True) -> Path:
    """Four counted calls, the last three lost with the OS (``lose``); the log closed into
    one segment (as rotation, purge or the archiver leave it). Returns the log's path."""
    _lists(data)
    await _check(data, NUMBERS, snapshot_after=1, crash=crash)
    log = data / "compliance.jsonl"
    assert close_segment(log) is not None
    if lose:
        _lose_commits(data)
    return log


def _archive(data: Path, log: Path, boot: str | None):
    return archive_files(Archive(data / "archive"), log, keep_segments=timedelta(0),
                         counts_store=data / "frequency.sqlite3", boot=lambda: boot)


async def test_archive_keeps_a_segment_whose_counts_the_store_lost(tmp_path):
    """``--keep-segments-days 0`` after an OS restart, before any opener wrote back: the
    segment is kept (and said), the write-back then finds the three lost counts, and the
    next run deletes it."""
    log = await _node_crashed(tmp_path)
    done = _archive(tmp_path, log, AFTER)
    assert done.segments == 1
    assert done.segments_held == 1
    assert len(closed_segments(log)) == 1
    assert any("lost in an OS restart" in note for note in done.notes)
    store = _store(tmp_path, boot=AFTER)
    try:
        assert store.written_back == 3
        assert _count(store, "3055550123") == 2
    finally:
        await store.aclose()
    again = _archive(tmp_path, log, AFTER)  # written back, the registration gone
    assert again.segments_held == 0
    assert closed_segments(log) == []


async def test_purge_holds_a_segment_whose_counts_the_store_lost(tmp_path):
    """The same for purge: the segment due is held whole, not deleted."""
    log = await _node_crashed(tmp_path)
    cutoff = datetime.now(UTC) + timedelta(days=1)
    done = purge_files(log, cutoff, counts_store=tmp_path / "frequency.sqlite3",
                       boot=lambda: AFTER)
    assert done.files_held == 1
    assert done.files_deleted == 0
    assert done.removed == 0
    assert done.notes
    store = _store(tmp_path, boot=AFTER)
    try:
        assert store.written_back == 3
    finally:
        await store.aclose()
    done = purge_files(log, cutoff, counts_store=tmp_path / "frequency.sqlite3",
                       boot=lambda: AFTER)
    assert (done.files_held, done.files_deleted) == (0, 1)


@pytest.mark.skipif(boot_id() is None, reason="no boot id on this host")
async def test_in_the_same_boot_the_store_is_synced_and_the_segment_deleted(tmp_path):
    """No OS restart since the store's write-back: every record's commit is in the file;
    the guard syncs its WAL and nothing is held (no over-refusal)."""
    log = await _node_crashed(tmp_path, lose=False)
    guard = counts_guard(log, tmp_path / "frequency.sqlite3", boot=boot_id)
    assert guard.last_mark is None
    assert guard.hold_all is None
    done = _archive(tmp_path, log, boot_id())
    assert done.segments_held == 0
    assert closed_segments(log) == []


async def test_a_log_no_longer_registered_is_not_held(tmp_path):
    """A clean close made the counts durable and took the log off: nothing to hold, even
    after an OS restart."""
    log = await _node_crashed(tmp_path, lose=False, crash=False)
    done = _archive(tmp_path, log, AFTER)
    assert done.segments_held == 0
    assert closed_segments(log) == []


async def test_a_store_that_cannot_be_read_holds_every_segment(tmp_path):
    """Fail closed: a counts file that is not a database may be one whose write-back needs
    the segments."""
    log = await _node_crashed(tmp_path, lose=False)
    store = tmp_path / "frequency.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    store.write_bytes(b"not a database" * 100)
    done = _archive(tmp_path, log, AFTER)
    assert done.segments_held == 1
    assert "could not be read" in done.notes[-1]
    assert len(closed_segments(log)) == 1
