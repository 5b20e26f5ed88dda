"""Review of hoff32's purge-rewrite check (hrev160): the cursor's ``tail`` (the hash of the
line before it) alone cannot tell a rewritten segment from the one it was taken in. A
record's line need not be unique (events of one kind, in one millisecond, with no id): a
purge dropping an old line the length of the lines after the cursor's put an identical
copy of the cursor's line at the cursor's old offset, the check passed, and the lines
between were skipped unsent. The segment file's inode is kept in the cursor: a closed
segment is never written again, so the same inode is in place; another file (a purge's
rewrite, a compression) is searched for the first copy of that line (never after the true
place: a purge keeps or drops identical lines alike). Real files, real purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from callguard.compliance.purge import purge_files
from callguard.compliance.sinks import exclusive
from callguard.compliance.stream_cursor import (
    Cursor,
    load_cursor,
    read_step,
    save_cursor,
    start_cursor,
)
from tests.stream_cursor_helpers import STAMP, rotate, walk

_DAY0 = datetime(2020, 1, 1, tzinfo=UTC)


def _line(n: int, pad: int = 0) -> bytes:
    at = (_DAY0 + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    record: dict[str, object] = {"schema": 1, "event": "purge", "logged_at": at,
                                 "node": "node-b", "n": n}
    if pad:
        record["pad"] = "x" * pad
    return orjson.dumps(record) + b"\n"


def _sized(n: int, size: int) -> bytes:
    """A line of day ``n`` exactly ``size`` bytes long."""
    pad = 1
    while len(_line(n, pad)) < size:
        pad += 1
    assert len(_line(n, pad)) == size
    return _line(n, pad)


def _write(log: Path, data: bytes) -> None:
    with exclusive(log), log.open("ab") as handle:
        handle.write(data)


def test_an_identical_line_at_the_old_offset_does_not_pass_for_the_cursor_s(tmp_path):
    """Old line A (day 0), T, X, T again (identical: same event, same instant). The
    cursor is after the first T; A is as long as T and X together, so once purge drops
    A the second T ends at the cursor's old offset. Failed before: X and the second T
    were skipped (sent [])."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    t, x = _line(5), _line(6)
    _write(log, _sized(0, len(t) + len(x)) + t)
    sent, cursor, _ = walk(log, cursor)
    assert sent == [0, 5]
    _write(log, x + t)
    rotate(log)
    lines, cursor, _ = read_step(log, cursor)  # onto the closed segment, after the first T
    assert lines == []
    assert cursor.stamp is not None
    assert purge_files(log, _DAY0 + timedelta(days=2)).files_rewritten == 1
    sent, _, _ = walk(log, cursor)
    assert sent == [6, 5]


def test_a_saved_closed_cursor_keeps_its_file_s_inode(tmp_path):
    """The inode goes through the cursor file (a restart between the rotation and the
    purge is checked the same way)."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _write(log, _line(5) + _line(6))
    _, cursor, _ = walk(log, cursor)
    _write(log, _line(7))
    segment = rotate(log)
    _, cursor, _ = read_step(log, cursor)
    save_cursor(log, cursor)
    loaded = load_cursor(log)
    assert loaded == cursor
    assert loaded is not None
    assert loaded.ino == segment.stat().st_ino
    assert walk(log, loaded)[0] == [7]


def test_an_old_closed_cursor_with_no_line_to_check_sends_the_segment_again(tmp_path):
    """A cursor an earlier version saved in a closed segment (no tail, no inode) cannot
    be checked: the segment is sent again from its start (the archiver keeps a decision
    once), never trusted past lines a purge moved. Failed before: sent [8] (7, unsent,
    skipped: the old offset is past it in the rewritten file)."""
    log = tmp_path / "compliance.jsonl"
    _write(log, _line(1) + _line(5) + _line(6) + _line(7) + _line(8))
    segment = rotate(log)
    old = len(_line(1) + _line(5) + _line(6))  # after 6: 7 and 8 unsent
    cursor = Cursor(stamp=STAMP, offset=old)
    assert purge_files(log, _DAY0 + timedelta(days=3)).files_rewritten == 1
    assert segment.read_bytes().startswith(_line(5))
    sent, _, _ = walk(log, cursor)
    assert sent == [5, 6, 7, 8]
