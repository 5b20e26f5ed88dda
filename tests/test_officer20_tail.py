"""`tail -f` across a rotation between its open of the log and its backlog (session 23).

`tail` held the current file for the follow, but the backlog readers opened the log again:
rotated in between, they read the new file up to the old one's size and the old one whole
as a segment, and the follow then showed lines past that size, and the new file's first
lines, a second time. The backlog now reads the file the follow holds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from bench.synthetic_records import Factory
from callguard.cli.logs import _tail_file
from callguard.compliance.reader import ReadStats, RecordFilter
from callguard.compliance.segments import stamp_name


class _Seen(Exception):
    """The last record came: the follow is stopped here."""


class _RotatedOnOpen(type(Path())):  # type: ignore[misc]
    """The log, rotated by "the writer" just after `tail` opened it (once)."""

    rotate: list[list[bytes]]

    def open(self, *args, **kwargs):
        handle = super().open(*args, **kwargs)
        if getattr(self, "rotate", None):
            later = self.rotate.pop()
            Path(self).replace(stamp_name(Path(self), datetime.now(UTC)))
            Path(self).write_bytes(b"".join(later))
        return handle


@pytest.mark.parametrize("lines", [None, 3], ids=["all", "last-3"])
def test_each_record_once_when_the_log_rotates_as_tail_starts(tmp_path, lines):
    records = list(Factory(12, days=1, pool=12).lines())
    before, after = records[:4], records[4:]  # the new file is longer than the old one
    log = _RotatedOnOpen(tmp_path / "compliance.jsonl")
    Path(log).write_bytes(b"".join(before))
    log.rotate = [after]
    last = orjson.loads(after[-1])
    seen: list[str] = []

    def show(record):
        seen.append(str(record.get("logged_at")) + str(record.get("event")) + str(
            record.get("decision_id")))
        if record == last:
            raise _Seen

    query = SimpleNamespace(filter=RecordFilter(), stats=ReadStats())
    with pytest.raises(_Seen):
        _tail_file(query, log, show, True, lines)
    assert len(seen) == len(set(seen)), seen
    expected = before[-lines:] if lines else before
    assert len(seen) == len(expected) + len(after)
