"""The stream fed from the node's log (``callguard/compliance/stream_cursor.py``): what it
cannot send is said, counted, and put on the stream for the archive host (hoff32).

- a line longer than the read limit was skipped unsaid: now a gap naming segment and range;
- a gap was said in the node's own log only: now an entry of its own kind on the stream
  (``stream-gap``, schema ``callguard/data/schemas/stream/stream-gap.json``);
- a backlog longer than the stream's MAXLEN: said with figures;
- a purge rewriting the segment under the cursor moved its offsets, and the lines between
  were skipped: now the cursor's last bytes are checked, and found again in the new file.

The file walk on real files; the sender with a real redis-server on a free port."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import structlog
from jsonschema import Draft202012Validator

from callguard.compliance.purge import purge_files
from callguard.compliance.sinks import exclusive
from callguard.compliance.stream_cursor import (
    Cursor,
    LogStreamSender,
    read_step,
    save_cursor,
    start_cursor,
)
from tests.stream_cursor_helpers import (
    STAMP,
    has_entries,
    make_sender,
    rotate,
    stream_entries,
    until,
    walk,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "callguard" / "data" / "schemas" / "stream" / "stream-gap.json"
_DAY0 = datetime(2020, 1, 1, tzinfo=UTC)


def _line(n: int, pad: int = 0) -> bytes:
    """A record's line, logged ``n`` days after 2020-01-01 (purge reads ``logged_at``)."""
    at = (_DAY0 + timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    record = {"schema": 1, "event": "purge", "logged_at": at, "node": "node-b", "n": n}
    if pad:
        record["pad"] = "x" * pad
    return orjson.dumps(record) + b"\n"


def _append(log: Path, *numbers: int, pad: int = 0) -> None:
    with exclusive(log), log.open("ab") as handle:
        handle.write(b"".join(_line(n, pad) for n in numbers))


def test_a_line_longer_than_the_read_limit_is_a_gap_named(tmp_path):
    """A 1.5 MiB line (a real record is a few KiB: a line that big is damage) was skipped
    in 1 MiB blocks, its tail dropped as a torn line: no gap. Failed before: gaps []."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _append(log, 1)
    start = log.stat().st_size
    _append(log, 2, pad=3 << 19)
    end = log.stat().st_size
    _append(log, 3)
    sent, cursor, gaps = walk(log, cursor)
    assert sent == [1, 3]
    assert [(g.segment, g.offset, g.end, g.reason) for g in gaps] == [
        (log.name, start, end, "oversize")]


def test_a_run_of_nuls_is_not_a_gap(tmp_path):
    """What a crash leaves (NULs, no line end) is no record: passed over, unsaid."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _append(log, 1)
    with exclusive(log), log.open("ab") as handle:
        handle.write(b"\x00" * (3 << 19) + b"\n")
    _append(log, 2)
    sent, _, gaps = walk(log, cursor)
    assert (sent, gaps) == ([1, 2], [])


def test_a_purge_rewriting_the_segment_under_the_cursor_skips_nothing(tmp_path):
    """The cursor names a byte offset; purge's rewrite drops the old lines before it, so
    the offset pointed past lines never sent (4 and 5 were skipped: failed before)."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _append(log, 1, 2, 3)
    sent, cursor, _ = walk(log, cursor)
    assert sent == [1, 2, 3]
    _append(log, 4, 5, 6)
    segment = rotate(log, 1)
    lines, cursor, _ = read_step(log, cursor)  # onto the closed segment, after 3
    assert lines == []
    assert cursor.stamp is not None
    result = purge_files(log, _DAY0 + timedelta(days=2, hours=12))  # drops 1 and 2
    assert result.files_rewritten == 1
    assert segment.read_bytes() == b"".join(_line(n) for n in (3, 4, 5, 6))
    sent, _, gaps = walk(log, cursor)
    assert (sent, gaps) == ([4, 5, 6], [])  # found where it was: none twice


def test_a_purge_of_the_current_file_under_the_cursor_skips_nothing(tmp_path):
    """Purge closes the current file (a rename) then rewrites it: the cursor follows the
    rename with its offset, into the rewritten file (failed before: 4 and 5 skipped)."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _append(log, 1, 2, 3)
    sent, cursor, _ = walk(log, cursor)
    _append(log, 4, 5, 6)
    purge_files(log, _DAY0 + timedelta(days=2, hours=12))
    sent, _, gaps = walk(log, cursor)
    assert (sent, gaps) == ([4, 5, 6], [])


def test_a_rewrite_dropping_the_cursor_s_place_sends_the_segment_again(tmp_path):
    """Purge took every line up to the cursor's: the segment is sent again from its start
    (the archiver keeps a decision once), nothing skipped."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    _append(log, 1, 2, 3)
    sent, cursor, _ = walk(log, cursor)
    _append(log, 4, 5, 6)
    rotate(log, 1)
    _, cursor, _ = read_step(log, cursor)
    purge_files(log, _DAY0 + timedelta(days=3, hours=12))  # drops 1, 2 and 3
    sent, _, gaps = walk(log, cursor)
    assert (sent, gaps) == ([4, 5, 6], [])


def _validate(record: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(record)]
    assert not errors, (record, errors)


def test_gaps_go_on_the_stream_as_entries_of_their_own(tmp_path, redis_server):
    """A purged segment under the cursor and an oversized line: each is an entry on the
    stream (``stream-gap``: node, segment, byte range, reason), in its place among the
    records, valid against its schema. Failed before: only the node's log said them."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    _append(log, 5)
    save_cursor(log, Cursor(stamp=STAMP, offset=40))  # a segment purged, unsent
    start = log.stat().st_size
    _append(log, 6, pad=3 << 19)
    end = log.stat().st_size
    _append(log, 7)

    async def run() -> list[dict]:
        sender = make_sender(log, redis_server.url)
        with structlog.testing.capture_logs() as logs:
            sender.start()
            await until(lambda: has_entries(redis_server.url, 4))
            await sender.aclose()
        said = [e for e in logs if e["event"] == "stream_gap"]
        assert [(e["reason"], e["offset"]) for e in said] == [("purged", 40),
                                                              ("oversize", start)], logs
        assert len(sender.gaps) == 2
        return await stream_entries(redis_server.url)

    entries = asyncio.run(run())
    kinds = [e.get("event") for e in entries]
    assert kinds == ["stream-gap", "purge", "stream-gap", "purge"], entries
    purged, oversize = entries[0], entries[2]
    for entry in (purged, oversize):
        _validate(entry)
        assert entry["node"] == "node-b"
    assert (purged["segment"], purged["offset"], purged["reason"]) == (
        f"{log.name}.{STAMP:%Y%m%dT%H%M%S%f}Z", 40, "purged")
    assert "end" not in purged  # to its end: how far it went is not known
    assert (oversize["segment"], oversize["offset"], oversize["end"], oversize["reason"]) == (
        log.name, start, end, "oversize")
    assert [e["n"] for e in entries if e["event"] == "purge"] == [5, 7]


def test_a_gap_not_taken_by_redis_is_sent_when_it_answers(tmp_path, redis_server):
    """The gap's entry is sent with the lines after it, or the cursor stays: Redis down
    when the gap is found, the entry is on the stream once it is back; said once."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    _append(log, 5)
    save_cursor(log, Cursor(stamp=STAMP, offset=40))
    redis_server.kill()

    async def run() -> tuple[list[dict], list]:
        sender = make_sender(log, redis_server.url)
        with structlog.testing.capture_logs() as logs:
            sender.start()
            await asyncio.sleep(1.0)
            redis_server.start()
            await until(lambda: has_entries(redis_server.url, 2))
            await sender.aclose()
        return await stream_entries(redis_server.url), logs

    entries, logs = asyncio.run(run())
    assert [e["event"] for e in entries] == ["stream-gap", "purge"]
    assert sum(1 for e in logs if e["event"] == "stream_gap") == 1, logs


def test_a_backlog_longer_than_the_stream_s_maxlen_is_said(tmp_path, redis_server):
    """After an outage the backlog can be longer than MAXLEN: the approximate trim takes
    entries no archiver read. Said with figures (the archiver counts them lost: hrev139)."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    save_cursor(log, Cursor(stamp=None, offset=0))
    _append(log, *range(300))

    async def run() -> list:
        sender = make_sender(log, redis_server.url, maxlen=100)
        with structlog.testing.capture_logs() as logs:
            sender.start()
            await until(lambda: _sent(sender, 300))
            await sender.aclose()
        return logs

    logs = asyncio.run(run())
    said = [e for e in logs if e["event"] == "stream_backlog_over_maxlen"]
    assert len(said) == 1, logs
    assert said[0]["maxlen"] == 100
    assert said[0]["backlog_sent"] > 100


async def _sent(sender: LogStreamSender, count: int) -> bool:
    return sender.sent >= count
