"""A crash's torn last line — the write that never finished, never acknowledged (sinks.py
``LogFile._heal`` cuts it before the next write) — is no loss of a record: in the current
file it is a write in progress, and when the archiver or purge closes the current file
before a writer healed it (sinks.py ``close_segment``: a rename, no heal) it is the last
line of a closed segment with no newline. hoff33 said it there as an ``unreadable-line``
gap (damage, with the torn record's decision id): the same bytes were a gap or not by
whether a writer or the archiver came first (hrev163). Real files."""

from __future__ import annotations

import orjson

from callguard.compliance.sinks import close_segment, exclusive
from callguard.compliance.stream_cursor import start_cursor
from tests.stream_cursor_helpers import walk

_TORN = b'{"n":2,"decision_id":"0c0ffee0-0000-4000-8000-000000000002","ca'


def test_a_torn_last_line_is_no_gap_in_the_current_file_nor_once_closed(tmp_path):
    """Failed before the fix: the closed segment's torn line was an ``unreadable-line``."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    with exclusive(log), log.open("ab") as handle:  # a writer died mid-line
        handle.write(orjson.dumps({"n": 1}) + b"\n" + _TORN)
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([1], [])  # the current file: a write in progress
    assert close_segment(log) is not None  # the archiver closes it, unhealed
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([], [])
    assert walk(log, cursor)[:2] == ([], cursor)


_GLUED = _TORN + orjson.dumps({"n": 3}) + b"\n"  # a writer before hlog23 glued it on


def test_a_record_glued_behind_a_torn_line_is_sent_not_a_gap(tmp_path):
    """Every file reader keeps a whole record glued behind a torn line (reader.py
    ``recover_line``), and a crash's NULs before one: hoff33 said the line an
    ``unreadable-line`` gap naming the TORN record's decision id, and the glued record
    was on the stream nowhere. Failed before: sent [1, 4] and a gap."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    with exclusive(log), log.open("ab") as handle:
        handle.write(orjson.dumps({"n": 1}) + b"\n" + _GLUED + b"\x00" * 40
                     + orjson.dumps({"n": 4}) + b"\n")
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([1, 3, 4], [])
    assert close_segment(log) is not None
    sent, _, gaps = walk(log, cursor)
    assert (sent, gaps) == ([], [])  # nothing twice
