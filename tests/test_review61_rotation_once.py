"""review 61: the report's read of the unarchived log counts each record once (session 22).

hoff18 opened the current file before listing the closed segments, and passed over the
listed segment that is the file held open (a rotation between the open and the listing)
by comparing inodes — but only when the loop reached that segment, after the older ones
were scanned (seconds on a day of records). Compressed by ``callguard archive`` meanwhile,
the listed plain segment was gone, its ``.zst`` (another inode) was read, and the file held
open was read again: every decision of the rotated file counted twice in the report.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from bench.synthetic_records import Factory
from callguard.compliance import reader
from callguard.compliance.compress import compress_segment
from callguard.compliance.reader import ReadStats, RecordFilter, oldest_first
from callguard.compliance.segments import Segment, stamp_name


def test_a_rotation_before_the_listing_then_a_compression_reads_each_record_once(
        tmp_path, monkeypatch):
    lines = list(Factory(3, days=1).lines())
    log = tmp_path / "compliance.jsonl"
    stamp_name(log, datetime(2026, 1, 4, tzinfo=UTC)).write_bytes(lines[0] + b"\n")
    log.write_bytes(lines[1] + b"\n")
    rotated = stamp_name(log, datetime(2026, 1, 5, 12, tzinfo=UTC))
    listing = reader.closed_segments

    def rotate_then_list(path):  # the writer rotates between the open and the listing
        log.rename(rotated)
        log.write_bytes(lines[2] + b"\n")
        return listing(path)

    monkeypatch.setattr(reader, "closed_segments", rotate_then_list)
    read = oldest_first(log, RecordFilter(), ReadStats())
    first = next(read)  # the oldest segment's record; the rotated one not reached yet
    compress_segment(Segment(rotated, datetime(2026, 1, 5, 12, tzinfo=UTC)))  # archive
    assert not rotated.exists()
    got = [first, *read]
    assert got == [orjson.loads(lines[0]), orjson.loads(lines[1])]
