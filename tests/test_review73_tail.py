"""Review 73: `tail -n N` when the log rotates, and the segment is compressed, while tail
reads the current file backwards.

`newest_first` asked which segment is the file it held only after reading that file: the
archiver had compressed it by then (``.zst``, another inode), so it was not recognised and
was read a second time as a segment: each of its records shown twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.synthetic_records import Factory
from callguard.compliance import reader
from callguard.compliance.compress import compress_segment
from callguard.compliance.reader import ReadStats, RecordFilter, newest_first
from callguard.compliance.segments import Segment, closed_segments, stamp_name


def test_each_record_once_when_the_held_file_is_rotated_and_compressed_meanwhile(
        tmp_path, monkeypatch):
    records = list(Factory(12, days=1, pool=12).lines())
    old, current = records[:5], records[5:]
    log = tmp_path / "compliance.jsonl"
    first = stamp_name(log, datetime(2026, 1, 1, tzinfo=UTC))
    first.write_bytes(b"".join(old))
    log.write_bytes(b"".join(current))
    scan = reader.lines_backward

    def rotated_while_read(handle, end, **kwargs):
        yield from scan(handle, end, **kwargs)
        # the writer rotates the file tail holds; the archiver compresses the segment
        closed = stamp_name(log, datetime(2026, 1, 2, tzinfo=UTC))
        Path(log).replace(closed)
        log.write_bytes(b"")
        compress_segment(Segment(closed, datetime(2026, 1, 2, tzinfo=UTC)))

    monkeypatch.setattr(reader, "lines_backward", rotated_while_read)
    with log.open("rb") as handle:
        end = handle.seek(0, 2)
        handle.seek(0)
        seen = [orjson.dumps(r) for r in newest_first(log, RecordFilter(), ReadStats(),
                                                        current_end=end, current=handle)]
    assert [s.compressed for s in closed_segments(log)] == [False, True]
    assert len(seen) == len(set(seen)) == len(records), len(seen)
