"""Review of hoff30's stream cursor (hrev148): a rotation between the step's stat and its
read must not skip lines, and a read that fails (an unreadable cursor, an IO error) must not
stop the sender for good: it says it and goes on. Real files; a real redis-server on a free
port for the sender."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import orjson
import structlog
from redis import asyncio as aioredis

from callguard.compliance import stream_cursor
from callguard.compliance.segments import stamp_name
from callguard.compliance.sinks import exclusive
from callguard.compliance.stream_cursor import (
    LogStreamSender,
    cursor_path,
    load_cursor,
    start_cursor,
)
from tests.stream_cursor_helpers import STAMP, append, walk

KEY = "callguard:compliance"


def test_a_rotation_between_the_stat_and_the_read_skips_nothing(tmp_path, monkeypatch):
    """The step stats the file under the lock, then opens it by name outside it: a
    rotation between (and a new file already longer than the cursor) made hoff30 read the
    NEW file from the old offset and carry that offset into the closed segment: lines
    skipped there, and sent twice from the new file."""
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    append(log, 1)
    sent, cursor, _ = walk(log, cursor)
    assert sent == [1]
    append(log, 2, 3)
    real = stream_cursor._current
    rotated = []

    def rotate_after_stat(path, ino=None):
        answer = real(path, ino)
        if not rotated:  # the writer rotates, then appends to its new file
            rotated.append(True)
            with exclusive(log):
                os.replace(log, stamp_name(log, STAMP + timedelta(minutes=1)))
            append(log, *range(10, 40))
        return answer

    monkeypatch.setattr(stream_cursor, "_current", rotate_after_stat)
    sent, cursor, _ = walk(log, cursor)  # the step that saw the rotation: nothing, or ...
    more, cursor, _ = walk(log, cursor)  # ... the sender's next look (half a second on)
    assert sent + more == [2, 3, *range(10, 40)]


def test_a_cursor_with_a_negative_offset_is_unreadable(tmp_path):
    log = tmp_path / "compliance.jsonl"
    cursor_path(log).write_bytes(b'{"stamp": null, "offset": -5, "ino": 0, "after": null}')
    with structlog.testing.capture_logs() as logs:
        assert load_cursor(log) is None
    assert [e["event"] for e in logs] == ["stream_cursor_unreadable"]


def test_a_read_that_fails_does_not_stop_the_sender(tmp_path, redis_server, monkeypatch):
    """An error reading the log (EIO, a permission, a broken compressed segment) killed
    hoff30's sender task: nothing more was sent by that serve, unsaid, and its aclose
    raised the error. Now it is said (``stream_read_failed``) and the read tried again."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    append(log, 0)
    real = stream_cursor.read_step
    failures = [OSError(5, "Input/output error")] * 2

    def failing(path, cursor):
        if failures:
            raise failures.pop()
        return real(path, cursor)

    monkeypatch.setattr(stream_cursor, "read_step", failing)

    async def run() -> list[int]:
        sender = LogStreamSender(aioredis.from_url(redis_server.url, socket_timeout=2),
                                 log=log, key=KEY, maxlen=1000, node="node-b")
        with structlog.testing.capture_logs() as logs:
            sender.start()
            append(log, 1, 2)
            sender.write(b"")
            client = aioredis.from_url(redis_server.url)
            try:
                deadline = asyncio.get_running_loop().time() + 15
                while len(await client.xrange(KEY)) < 2:
                    assert asyncio.get_running_loop().time() < deadline, logs
                    await asyncio.sleep(0.05)
                entries = await client.xrange(KEY)
            finally:
                await client.aclose()
            await sender.aclose()
        assert "stream_read_failed" in [e["event"] for e in logs], logs
        return [orjson.loads(fields[b"r"])["n"] for _, fields in entries]

    assert asyncio.run(run()) == [1, 2]


def test_an_unreadable_cursor_sends_the_current_file_again(tmp_path, redis_server):
    """A cursor file that is garbage (a disk fault, a hand edit): hoff30 began at the end of
    the log when the sender first ran, after this process's own records were written: the
    backlog and those records were never sent. Now the current file is sent again from its
    start (the archiver keeps a decision once), and said."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    append(log, 1, 2)  # left unsent by the process before
    cursor_path(log).write_bytes(b"\x00\x00garbage")

    async def run() -> list[int]:
        sender = LogStreamSender(aioredis.from_url(redis_server.url, socket_timeout=2),
                                 log=log, key=KEY, maxlen=1000, node="node-b")
        append(log, 3)  # this process's own record, before its sender runs
        with structlog.testing.capture_logs() as logs:
            sender.start()
            await asyncio.sleep(1.0)
            await sender.aclose()
        events = [e["event"] for e in logs]
        assert "stream_cursor_unreadable" in events, logs
        client = aioredis.from_url(redis_server.url)
        try:
            entries = await client.xrange(KEY)
        finally:
            await client.aclose()
        return [orjson.loads(fields[b"r"])["n"] for _, fields in entries]

    assert asyncio.run(run()) == [1, 2, 3]
    assert load_cursor(log) is not None


def test_the_first_start_on_a_data_dir_says_where_the_stream_begins(tmp_path, redis_server):
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    append(log, 1)  # an older version's, maybe unsent: not looked for, and said

    async def run(times: int) -> list[str]:
        events = []
        for _ in range(times):
            sender = LogStreamSender(aioredis.from_url(redis_server.url, socket_timeout=2),
                                     log=log, key=KEY, maxlen=1000, node="node-b")
            with structlog.testing.capture_logs() as logs:
                sender.start()
                await asyncio.sleep(0.3)
                await sender.aclose()
            events += [e["event"] for e in logs]
        return events

    assert asyncio.run(run(2)).count("stream_cursor_started") == 1
