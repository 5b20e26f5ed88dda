"""Review hrev117 of hlog24's log readers: the follow's start, a heal the follow must see,
and a decision_id quoted inside a reason.

Real files, real ``LogFile`` writes (the heal is the writer's own, on reopening a torn
file); the records are encoded by orjson as the writer encodes them.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import orjson

from callguard.compliance.reader import (
    ReadStats,
    RecordFilter,
    decisions_newest_first,
    follow_file,
    follow_start,
    newest_first,
    oldest_first,
)
from callguard.compliance.sinks import LogFile


def _line(n: int) -> bytes:
    return orjson.dumps({"schema": 1, "event": "line-release", "node": "n1",
                         "logged_at": "2026-12-07T05:00:00.000Z", "i": n,
                         "pad": "x" * 150}) + b"\n"


def test_records_appended_while_the_backlog_is_read_are_all_followed(tmp_path):
    """``follow_start`` read the file through the follow's own buffered handle: a small
    file (under one 64 KiB block) that grew after its size was taken left the grown bytes
    in that handle's read-ahead buffer. The backlog then moved the offset the handle
    shares (its descriptor is dup'd), the follow's seek to its start fell inside the
    buffer (no lseek), and its next read went on from where the backlog had left the
    offset: records appended meanwhile were never shown (41-47 of 40-99 lost)."""
    path = tmp_path / "compliance.jsonl"
    path.write_bytes(b"".join(_line(i) for i in range(40)))
    handle = path.open("rb")
    end = os.fstat(handle.fileno()).st_size
    log = LogFile(path, max_bytes=1 << 30)
    try:
        log.commit(_line(40), sync=False)  # written right after tail took the size
        boundary, start = follow_start(handle, end)
        log.commit(b"".join(_line(i) for i in range(41, 100)), sync=False)  # meanwhile
    finally:
        log.close()
    backlog = [r["i"] for r in newest_first(path, RecordFilter(), ReadStats(),
                                            current_end=boundary, current=handle)]
    assert backlog == list(range(39, -1, -1))
    followed: list[int] = []
    for record in follow_file(path, handle, start, RecordFilter(), ReadStats(), poll=0.05,
                              boundary=boundary):
        followed.append(record["i"])
        if record["i"] == 99 or len(followed) >= 60:
            break
    assert followed == list(range(40, 100))


def _decision(decision_id: str, ms: int, reason: str = "on list 'national' v40") -> bytes:
    return orjson.dumps({
        "schema": 2, "event": "decision", "logged_at": f"2026-12-07T05:00:00.{ms:03d}Z",
        "node": "n1", "decision_id": decision_id, "verdict": "BLOCK", "reason": reason,
        "packs": [["us-federal", "2026.11.0", "5d1c09e2", "ppbpp-p"],
                  ["us-ut", "2026.11.0", "a4b1f37c", "pp-pp"]],
        "latency_us": 528}) + b"\n"


def test_a_heal_rewriting_a_fragment_with_the_same_last_bytes_is_seen(tmp_path):
    """The follow held a torn fragment of decision A and knew a heal that wrote past it by
    its last 64 bytes only. Two decisions of one campaign and rule have the same layout:
    cut far enough past the id and the time, A's last 64 bytes are B's at the same
    offsets. The heal wrote B in A's place, the check saw nothing, and the follow glued
    A's head to B's tail: a whole, valid record under A's id (never written whole, cut
    by the writer) and B never shown. Now the fragment is compared whole (its first
    64 KiB when longer)."""
    path = tmp_path / "compliance.jsonl"
    a = _decision("0193a000-0000-7000-8000-00000000000a", 100)
    b = _decision("0193a000-0000-7000-8000-00000000000b", 600)
    cut = a.index(b'"pp-pp"')
    assert len(a) == len(b)
    assert cut > 64
    assert a[cut - 64:cut] == b[cut - 64:cut]
    first = _decision("0193a000-0000-7000-8000-000000000001", 0)
    path.write_bytes(first + a[:cut])
    handle = path.open("rb")

    def heal() -> None:
        log = LogFile(path, max_bytes=1 << 30)  # a torn tail: cut before the append
        log.commit(b, sync=True)
        log.close()

    timer = threading.Timer(0.5, heal)  # the follow has read the fragment and waits
    timer.start()
    seen: list[str] = []
    stats = ReadStats()
    try:
        for record in follow_file(path, handle, 0, RecordFilter(), stats, poll=0.05):
            seen.append(record["decision_id"])
            if len(seen) == 2:
                break
    finally:
        timer.join()
    assert seen == [orjson.loads(first)["decision_id"], orjson.loads(b)["decision_id"]]
    assert stats.torn == 1  # A's fragment, once


def test_a_decision_id_quoted_in_a_reason_names_no_record(tmp_path):
    """A reason quotes the rejected input; one carrying ``"decision_id":"X"`` text is
    escaped by the encoder, never the field. ``decisions_newest_first`` returns X's own
    record, and the one quoting X (whole, or glued behind a torn fragment) under its own
    id only, as the forward reader does."""
    path = tmp_path / "compliance.jsonl"
    x = "0193a000-0000-7000-8000-0000000000c1"
    w = "0193a000-0000-7000-8000-0000000000c2"
    v = "0193a000-0000-7000-8000-0000000000c3"
    forged = f'rejected caller id {{"decision_id":"{x}","verdict":"ALLOW"}}'
    torn = _decision("0193a000-0000-7000-8000-0000000000c4", 300, forged)[:120]
    path.write_bytes(_decision(x, 100) + _decision(w, 200, forged) + torn
                     + _decision(v, 400, f'"decision_id": "{x}"') + _decision(w, 500)[:90])
    since = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    found = list(decisions_newest_first(path, [x], since))
    assert [(r["decision_id"], r["reason"]) for r in found] == [(x, "on list 'national' v40")]
    found = list(decisions_newest_first(path, [x, w, v], since))
    assert [r["decision_id"] for r in found] == [v, w, x]
    assert [r["reason"] for r in found[:2]] == [f'"decision_id": "{x}"', forged]
    forward = [r["decision_id"] for r in oldest_first(path, RecordFilter(decision_id=x),
                                                     ReadStats())]
    assert forward == [x]


def test_a_line_finished_by_the_writers_second_write_is_no_heal(tmp_path):
    """A short write leaves the line unfinished and the writer writes the rest (and the
    next record) after it: the bytes the follow holds are still the file's, no heal is
    seen, each record is shown once, nothing is torn."""
    path = tmp_path / "compliance.jsonl"
    first = _decision("0193a000-0000-7000-8000-000000000001", 0)
    second = _decision("0193a000-0000-7000-8000-000000000002", 100)
    third = _decision("0193a000-0000-7000-8000-000000000003", 200)
    path.write_bytes(first + second[:150])
    handle = path.open("rb")

    def finish() -> None:
        with path.open("ab") as writer:  # the rest of the same write, then the next one
            writer.write(second[150:])
            writer.flush()
            writer.write(third)

    timer = threading.Timer(0.5, finish)
    timer.start()
    seen: list[str] = []
    stats = ReadStats()
    try:
        for record in follow_file(path, handle, 0, RecordFilter(), stats, poll=0.05):
            seen.append(record["decision_id"])
            if len(seen) == 3:
                break
    finally:
        timer.join()
    assert seen == [orjson.loads(r)["decision_id"] for r in (first, second, third)]
    assert stats.torn == 0
