"""The stream cursor's test helpers, once (hoff33): the file walk, a rotation and the
segment instant were copied into hoff30's, hoff32's, hrev148's and hrev160's tests
(``_walk``, ``_rotate``, ``_STAMP``, ``_append``), and hoff32's sender, stream read and
wait would have been copied into hoff33's; they take them from here."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from redis import asyncio as aioredis

from callguard.compliance.segments import stamp_name
from callguard.compliance.sinks import exclusive
from callguard.compliance.stream_cursor import Cursor, Gap, LogStreamSender, read_step

STAMP = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def append(log: Path, *numbers: int) -> None:
    """Append records ``{"n": n}`` as a writer does: whole lines, under the log's lock."""
    with exclusive(log), log.open("ab") as handle:
        handle.write(b"".join(orjson.dumps({"n": n}) + b"\n" for n in numbers))


def rotate(log: Path, minutes: int = 0) -> Path:
    """Close the current file as the segment of ``STAMP`` + ``minutes``, under the lock."""
    target = stamp_name(log, STAMP + timedelta(minutes=minutes))
    with exclusive(log):
        os.replace(log, target)
    return target


def walk(log: Path, cursor: Cursor, steps: int = 50) -> tuple[list[int], Cursor, list[Gap]]:
    """``read_step`` until caught up: the records' ``n`` sent, the cursor, the gaps."""
    sent: list[int] = []
    gaps: list[Gap] = []
    for _ in range(steps):
        lines, after, gap = read_step(log, cursor)
        sent += [orjson.loads(line)["n"] for line in lines]
        if gap is not None:
            gaps.append(gap)
        if after == cursor and not lines:
            return sent, cursor, gaps
        cursor = after
    raise AssertionError("read_step never caught up")


KEY = "callguard:compliance"


def make_sender(log: Path, url: str, maxlen: int = 1000) -> LogStreamSender:
    """A sender of node-b's log to the stream at ``url``."""
    return LogStreamSender(aioredis.from_url(url, socket_timeout=2), log=log, key=KEY,
                           maxlen=maxlen, node="node-b")


async def stream_entries(url: str) -> list[dict]:
    """The records on the stream, in order."""
    client = aioredis.from_url(url)
    try:
        entries = await client.xrange(KEY)
    finally:
        await client.aclose()
    return [orjson.loads(fields[b"r"]) for _, fields in entries]


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    """Wait for ``predicate`` (polled every 50 ms), failing after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def has_entries(url: str, count: int) -> bool:
    """At least ``count`` records on the stream (False while it does not answer yet)."""
    try:
        return len(await stream_entries(url)) >= count
    except Exception:  # noqa: BLE001 - not there yet
        return False
