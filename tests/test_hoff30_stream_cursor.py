"""The Redis Stream fed from the node's own log file from a durable cursor (hoff30,
``callguard/compliance/stream_cursor.py``): a record made while Redis was down, by a
process stopped or killed before Redis came back, is sent by the next sender on that data
dir; through rotated, compressed and purged segments; one sender per data dir.

The file walk (``read_step``) is tested directly on real files; the sender with a real
redis-server on a free port, stopped, killed and started again."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import structlog
from redis import asyncio as aioredis

from callguard.compliance.seekable import compress_lines
from callguard.compliance.stream_cursor import (
    Cursor,
    LogStreamSender,
    cursor_path,
    load_cursor,
    read_step,
    save_cursor,
    start_cursor,
)
from tests.stream_cursor_helpers import append, rotate, walk

KEY = "callguard:compliance"


def test_walk_from_an_empty_data_dir_then_a_rotation_under_the_cursor(tmp_path):
    log = tmp_path / "compliance.jsonl"
    (tmp_path / "compliance.jsonl.lock").touch()
    cursor = start_cursor(log)  # no file yet
    assert cursor == Cursor(stamp=None, offset=0, ino=0, after=None)
    append(log, 1, 2)
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([1, 2], [])
    append(log, 3, 4)
    rotate(log, 1)  # 3 and 4 not sent yet: they are in the closed segment now
    append(log, 5)
    rotate(log, 2)
    append(log, 6)
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([3, 4, 5, 6], [])
    assert cursor.stamp is None
    assert walk(log, cursor)[0] == []  # caught up: nothing twice


def test_walk_reads_on_in_a_compressed_segment(tmp_path):
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    append(log, 1, 2)
    sent, cursor, _ = walk(log, cursor)
    assert sent == [1, 2]
    append(log, 3, 4)
    closed = rotate(log, 1)
    packed = closed.with_name(closed.name + ".zst")
    with packed.open("wb") as out:  # as `callguard archive` does: then the plain one goes
        compress_lines(closed.read_bytes().splitlines(keepends=True), out)
    closed.unlink()
    append(log, 5)
    sent, cursor, gaps = walk(log, cursor)
    assert (sent, gaps) == ([3, 4, 5], [])


def test_a_segment_purged_before_it_was_sent_is_a_gap_said(tmp_path):
    log = tmp_path / "compliance.jsonl"
    cursor = start_cursor(log)
    append(log, 1)
    sent, cursor, _ = walk(log, cursor)
    assert sent == [1]
    append(log, 2, 3)
    first = rotate(log, 1)
    append(log, 4)
    rotate(log, 2)
    append(log, 5)
    lines, cursor, gap = read_step(log, cursor)  # onto the first closed segment
    assert (lines, gap) == ([], None)
    first.unlink()  # purged before its lines went
    sent, cursor, gaps = walk(log, cursor)
    assert sent == [4, 5]
    assert [(g.segment, g.offset) for g in gaps] == [(first.name, len(b'{"n":1}\n'))]


def test_a_line_not_whole_is_not_sent(tmp_path):
    log = tmp_path / "compliance.jsonl"
    append(log, 1)
    cursor = start_cursor(log)
    with log.open("ab") as handle:
        handle.write(b'{"n":2}\n{"n":')
    sent, cursor, _ = walk(log, cursor)
    assert sent == [2]
    with log.open("ab") as handle:
        handle.write(b'3}\n{"torn":\n{"n":4}\n')  # half a line a crash left, healed
    assert walk(log, cursor)[0] == [3, 4]


async def _stream(url: str) -> list[int]:
    client = aioredis.from_url(url)
    try:
        entries = await client.xrange(KEY)
    finally:
        await client.aclose()
    return [orjson.loads(fields[b"r"])["n"] for _, fields in entries]


async def _until(predicate, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


def _sender(log: Path, url: str) -> LogStreamSender:
    return LogStreamSender(aioredis.from_url(url, socket_timeout=2), log=log, key=KEY,
                           maxlen=1000, node="node-b")


def test_records_made_while_redis_is_down_are_sent_when_it_answers(tmp_path, redis_server):
    """A serve's sender: Redis killed, records made, Redis back: each sent once."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    append(log, 0)  # before this sender's first start: not its to send

    async def run() -> None:
        sender = _sender(log, redis_server.url)
        sender.start()
        append(log, 1)
        sender.write(b"")
        await _until(lambda: _is(redis_server.url, [1]))
        redis_server.kill()
        with structlog.testing.capture_logs() as logs:
            append(log, 2, 3)
            sender.write(b"")
            await asyncio.sleep(1.0)
            redis_server.start()
            append(log, 4)
            sender.write(b"")
            await _until(lambda: _is(redis_server.url, [1, 2, 3, 4]))
        events = [entry["event"] for entry in logs]
        assert "stream_unavailable" in events, logs
        await sender.aclose()
        assert not sender.unsent

    asyncio.run(run())


async def _is(url: str, want: list[int]) -> bool:
    try:
        return await _stream(url) == want
    except OSError:
        return False
    except Exception:  # noqa: BLE001 - Redis coming back: asked again
        return False


def test_a_sender_stopped_while_redis_is_down_leaves_them_for_the_next(tmp_path,
                                                                         redis_server):
    """A one-shot check (or a serve stopped) while Redis is down: said where they are;
    the next sender on the data dir, once Redis answers, sends them first."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()
    append(log, 0)
    redis_server.stop()

    async def first() -> None:
        sender = _sender(log, redis_server.url)
        sender.start()
        await asyncio.sleep(0.1)
        append(log, 1, 2)
        sender.write(b"")
        with structlog.testing.capture_logs() as logs:
            await sender.aclose()
        assert sender.unsent
        said = [entry for entry in logs if entry["event"] == "stream_unsent"]
        assert said, logs
        assert str(log) in said[0]["unsent_from"], said
        assert str(cursor_path(log)) in said[0]["detail"], said

    asyncio.run(first())
    saved = load_cursor(log)
    assert saved is not None
    assert saved.offset == len(b'{"n":0}\n')
    redis_server.start()

    async def second() -> None:
        sender = _sender(log, redis_server.url)
        sender.start()
        await _until(lambda: _is(redis_server.url, [1, 2]))
        await sender.aclose()

    asyncio.run(second())
    saved = load_cursor(log)
    assert saved is not None
    assert saved.offset == log.stat().st_size  # durable: caught up


def test_a_killed_sender_s_records_are_sent_by_the_next(tmp_path, redis_server):
    """A crash: records in the file past the saved cursor (the process died before it sent
    them), sent by the next process's sender; what it had sent is not sent again."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()

    async def crashed() -> None:
        sender = _sender(log, redis_server.url)
        sender.start()
        append(log, 1)
        sender.write(b"")
        await _until(lambda: _is(redis_server.url, [1]))
        assert sender._task is not None
        sender._task.cancel()  # no aclose: as SIGKILL, nothing done at the end
        os.close(sender._lock_fd)  # the process's end releases its lock

    asyncio.run(crashed())
    append(log, 2, 3)  # made, then the process died before they were sent

    async def next_one() -> None:
        sender = _sender(log, redis_server.url)
        sender.start()
        await _until(lambda: _is(redis_server.url, [1, 2, 3]))
        await sender.aclose()

    asyncio.run(next_one())


def test_one_sender_per_data_dir_sends_another_process_s_lines(tmp_path, redis_server):
    """A check beside a serve: the check's sender is not the holder and sends nothing; the
    serve's sends the check's line (looked for every half second); nothing twice."""
    log = tmp_path / "data" / "compliance.jsonl"
    log.parent.mkdir()

    async def run() -> None:
        serve = _sender(log, redis_server.url)
        serve.start()
        await _until(lambda: _holds(serve))
        check = _sender(log, redis_server.url)
        check.start()
        append(log, 1)
        check.write(b"")  # the check's own view: not the holder, it sends nothing
        await check.aclose()
        assert not check.holder
        assert check.sent == 0
        await _until(lambda: _is(redis_server.url, [1]))  # the serve's poll took it
        append(log, 2)
        serve.write(b"")
        await _until(lambda: _is(redis_server.url, [1, 2]))
        await serve.aclose()
        assert serve.sent == 2

    asyncio.run(run())


async def _holds(sender: LogStreamSender) -> bool:
    return sender.holder and sender.cursor is not None


def test_a_record_sent_twice_is_archived_and_found_once(tmp_path, redis_server):
    """A crash between the XADD and the cursor's write sends lines again: the archiver
    takes each decision once (by decision id), and `evidence` on an officer's host counts
    it once, from the stream alone and with the archive. Real `callguard check`, `archive
    --stream` and `evidence` processes."""
    from tests.log_files import cli, config
    from tests.test_hoff25_officer_stream import _officer

    data = tmp_path / "node-b"
    data.mkdir()
    path = config(tmp_path, data, node="node-b")
    text = path.read_text().replace('url = "redis://127.0.0.1:6379/0"',
                                    f'url = "{redis_server.url}"')
    path.write_text(text.replace("redis_stream = false", "redis_stream = true"))
    number, made = "+18015550177", []
    for at in ("2026-12-07T17:00:00Z", "2026-12-07T17:10:00Z"):
        done = cli("check", number, "--campaign", "ut-solar-manual", "--at", at, "--json",
                   config_path=path)
        assert done.stdout, done.stderr
        made.append(orjson.loads(done.stdout)["decision_id"])
        if len(made) == 1:  # as if that process died before its cursor was written
            log = data / "compliance.jsonl"
            save_cursor(log, Cursor(stamp=None, offset=0, ino=log.stat().st_ino))
    entries = asyncio.run(_entries(redis_server.url))
    assert sorted(entries) == sorted([made[0], made[0], made[1]])  # the first one twice
    officer = _officer(tmp_path, redis_server)
    alone = cli("evidence", number, "--format", "json", config_path=officer)
    assert alone.returncode == 0, alone.stderr
    assert sorted(d["decision_id"] for d in orjson.loads(alone.stdout)["decisions"]) == sorted(
        made)
    archived = cli("archive", "--stream", "--json", config_path=path)
    assert archived.returncode == 0, archived.stderr
    # (its run counts the 3 entries it read; the archive keeps each decision once: below)
    again = cli("evidence", number, "--format", "json", "--archive", str(data / "archive"),
                config_path=officer)
    assert again.returncode == 0, again.stderr
    assert sorted(d["decision_id"] for d in orjson.loads(again.stdout)["decisions"]) == sorted(
        made)
    report = cli("report", "--json", "--archive", str(data / "archive"), config_path=officer)
    assert report.returncode == 0, report.stderr
    assert orjson.loads(report.stdout)["decisions"] == 2, report.stdout


async def _entries(url: str) -> list[str]:
    client = aioredis.from_url(url)
    try:
        entries = await client.xrange(KEY)
    finally:
        await client.aclose()
    ids = [orjson.loads(fields[b"r"]).get("decision_id") for _, fields in entries]
    return [i for i in ids if i]  # decisions (the events: no decision id)


def _ids_on_stream(url: str) -> list[str]:
    try:
        return asyncio.run(_entries(url))
    except Exception:  # noqa: BLE001 - Redis coming back: asked again
        return []


def test_a_serve_sends_what_it_decided_while_redis_was_down(tmp_path, redis_server):
    """A real `serve`: Redis stopped, a check decided, Redis back: the decision reaches
    the stream while serve runs. Redis stopped again, a check, serve stopped (SIGTERM)
    before Redis came back: `stream_unsent` names the file; the next `serve` on that data
    dir sends it once Redis answers. Each decision on the stream once."""
    from tests.serve_node import ServeNode, write_lists

    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_stream=True)
    write_lists(node.data, [])
    body = {"number": "+18015550177", "campaign": "ut-solar-manual",
            "at": "2026-12-02T11:00:00-07:00"}
    node.start()
    try:
        status, answer = node.json("/v1/check", body)
        assert status == 200, answer
        first = answer["decision_id"]
        node.until(lambda: first in _ids_on_stream(redis_server.url), what="first sent")
        redis_server.stop()
        status, answer = node.json("/v1/check", body)
        assert status == 200, answer
        second = answer["decision_id"]
        redis_server.start()
        node.until(lambda: second in _ids_on_stream(redis_server.url), timeout=30,
                   what="sent once Redis answered")
        redis_server.stop()
        status, answer = node.json("/v1/check", body)
        assert status == 200, answer
        third = answer["decision_id"]
    finally:
        node.stop()
    said = node.events("stream_unsent")
    assert said, node.stderr()[-2000:]
    assert str(node.data / "compliance.jsonl") in said[-1]["unsent_from"], said
    redis_server.start()
    assert third not in _ids_on_stream(redis_server.url)
    node.start()
    try:
        node.until(lambda: third in _ids_on_stream(redis_server.url), timeout=30,
                   what="sent by the next serve")
    finally:
        node.stop()
    ids = _ids_on_stream(redis_server.url)
    assert sorted(ids) == sorted([first, second, third]), ids
