"""Evidence reads the unarchived log whole while the writer rotates it (session 22).

``LiveLines.of_log`` listed the closed segments, then opened the current file only when
the search reached it (after the archive's query, seconds over five years of days). A
rotation meanwhile renamed the current file to a closed segment not listed, and a new
current file was read instead: the rotated file's decisions were in no answer, with exit 0.
A closed segment compressed meanwhile (``.zst``) was not found where it was listed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callguard.compliance.archive.evidence import LiveLines
from callguard.compliance.archive.store import Archive
from callguard.compliance.compress import compress_segment
from callguard.compliance.segments import Segment, stamp_name


def _read(live: LiveLines) -> list[bytes]:
    return [line for batch in live.batches for line in batch]


def test_a_rotation_after_listing_loses_no_line(tmp_path):
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b'{"n":1}\n{"n":2}\n')
    live = LiveLines.of_log(log, Archive(tmp_path / "archive"))
    log.rename(stamp_name(log, datetime(2026, 12, 7, 12, tzinfo=UTC)))  # the writer rotates
    log.write_bytes(b'{"n":3}\n')
    assert b'{"n":1}' in _read(live)


def test_a_segment_compressed_after_listing_is_read(tmp_path):
    log = tmp_path / "compliance.jsonl"
    closed = stamp_name(log, datetime(2026, 12, 7, 12, tzinfo=UTC))
    closed.write_bytes(b'{"n":1}\n')
    log.write_bytes(b'{"n":2}\n')
    live = LiveLines.of_log(log, Archive(tmp_path / "archive"))
    compress_segment(Segment(closed, datetime(2026, 12, 7, 12, tzinfo=UTC)))
    assert not closed.exists()
    assert sorted(_read(live)) == [b'{"n":1}', b'{"n":2}']


def test_report_s_unarchived_read_survives_a_rotation(tmp_path):
    """``oldest_first`` (report's and tail's read of the log): the current file was opened
    after every closed segment was scanned; a rotation meanwhile lost its records."""
    from bench.synthetic_records import Factory
    from callguard.compliance.reader import ReadStats, RecordFilter, oldest_first

    lines = list(Factory(3, days=1).lines())
    log = tmp_path / "compliance.jsonl"
    stamp_name(log, datetime(2026, 1, 4, tzinfo=UTC)).write_bytes(lines[0] + b"\n")
    log.write_bytes(lines[1] + b"\n")
    read = oldest_first(log, RecordFilter(), ReadStats())
    first = next(read)  # the closed segment's record; the current file not reached yet
    log.rename(stamp_name(log, datetime(2026, 1, 5, 12, tzinfo=UTC)))  # the writer rotates
    log.write_bytes(lines[2] + b"\n")
    rest = list(read)
    import orjson
    assert [first, *rest][:2] == [orjson.loads(lines[0]), orjson.loads(lines[1])]


def test_report_s_segment_archived_meanwhile_is_read_again_not_skipped(tmp_path):
    """A closed segment gone between the listing and its read (archived under a manifest
    the report did not read, then deleted) was skipped in silence: its calls were in no
    figure. It raises FileNotFoundError, which ``read_through_commits`` reads again on."""
    from bench.synthetic_records import Factory
    from callguard.cli.logs import _unarchived
    from callguard.compliance.archive.store import Manifest
    from callguard.compliance.reader import ReadStats, RecordFilter

    lines = list(Factory(3, days=1).lines())
    log = tmp_path / "compliance.jsonl"
    first = stamp_name(log, datetime(2026, 1, 4, tzinfo=UTC))
    second = stamp_name(log, datetime(2026, 1, 4, 12, tzinfo=UTC))
    first.write_bytes(lines[0] + b"\n")
    second.write_bytes(lines[1] + b"\n")
    log.write_bytes(lines[2] + b"\n")
    read = _unarchived(log, Manifest(), RecordFilter(), ReadStats())
    next(read)
    second.unlink()  # archived and deleted by `callguard archive` meanwhile
    import pytest
    with pytest.raises(FileNotFoundError):
        list(read)
