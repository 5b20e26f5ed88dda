"""The watchdog's decision walk and a record glued behind a torn line (hlog24).

A writer before hlog23 killed mid-line left a fragment without its newline, and the next
writer appended its record to it (hlog23 cuts a torn tail whole before the next append:
no new such line is made, but logs written before keep theirs, five years). Every reader
keeps the whole record behind the fragment (``reader._scan``, ``recover_line``), oldest
first and newest first; ``decisions_newest_first`` (the watchdog's lookup of a call's
number after a restart) took the line's first ``decision_id`` (the fragment's) and parsed
the line whole, so it never found the glued decision: the call was followed without its
number. Now the same rule both ways: the glued record is read, the fragment never.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callguard.compliance.reader import (
    ReadStats,
    RecordFilter,
    decisions_newest_first,
    newest_first,
    oldest_first,
)

_IDS = {n: f"01a23e7a-fbf{n}-7ba3-93ae-75792444eda8" for n in range(1, 6)}


def _decision(n: int, second: int) -> bytes:
    return (b'{"schema":2,"event":"decision","logged_at":"2026-12-04T10:00:%02d.000Z",'
            b'"node":"n1","decision_id":"%s","verdict":"ALLOW","number_hash":"%s"}'
            % (second, _IDS[n].encode(), b"%d" % n * 64))


def _log(tmp_path):
    path = tmp_path / "compliance.jsonl"
    torn = _decision(2, 2)[:70]  # cut inside its decision_id: it names no id whole
    torn_named = _decision(4, 4)[:150]  # cut after its decision_id: it names id 4
    path.write_bytes(_decision(1, 1) + b"\n" + torn + _decision(3, 3) + b"\n"
                     + torn_named + _decision(5, 5) + b"\n")
    return path


def test_the_decision_walk_reads_a_record_glued_behind_a_torn_line(tmp_path):
    path = _log(tmp_path)
    since = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    found = [r["decision_id"] for r in decisions_newest_first(
        path, [_IDS[1], _IDS[3], _IDS[5]], since)]
    assert found == [_IDS[5], _IDS[3], _IDS[1]]


def test_a_torn_fragment_naming_the_id_is_never_read(tmp_path):
    path = _log(tmp_path)
    since = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert list(decisions_newest_first(path, [_IDS[4]], since)) == []
    assert list(decisions_newest_first(path, [_IDS[2]], since)) == []


def test_every_reader_reads_the_same_records_both_ways(tmp_path):
    path = _log(tmp_path)
    since = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    forward = [r["decision_id"] for r in oldest_first(path, RecordFilter(), ReadStats())]
    backward = [r["decision_id"] for r in newest_first(path, RecordFilter(), ReadStats())]
    walked = [r["decision_id"] for r in decisions_newest_first(path, list(_IDS.values()),
                                                               since)]
    assert forward == [_IDS[1], _IDS[3], _IDS[5]]
    assert backward == walked == forward[::-1]
