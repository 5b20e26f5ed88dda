"""Reading the compliance log back: from the files of one node or the stream of all.

Records are JSON objects; the time range applies to ``logged_at`` (when the record was
written, UTC). Lines that are not JSON (a torn last line after a crash) are skipped and
counted, never fatal.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from redis import asyncio as aioredis

from callguard.compliance.sinks import rotated_files

__all__ = ["CAUGHT_UP", "RecordFilter", "follow_stream", "logged_at", "newest_id", "parse_line",
           "read_files", "read_stream", "read_stream_newest", "stream_id"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """What a supervisor asked to see; None matches anything."""

    campaign: str | None = None
    verdict: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    number_hash: str | None = None
    event: str | None = None

    def matches(self, record: Record) -> bool:
        """Whether the record passes every given criterion."""
        if self.event is not None and record.get("event") != self.event:
            return False
        if self.campaign is not None and record.get("campaign") != self.campaign:
            return False
        if self.verdict is not None and record.get("verdict") != self.verdict:
            return False
        if self.rule is not None and record.get("rule") != self.rule:
            return False
        if self.number_hash is not None and record.get("number_hash") != self.number_hash:
            return False
        if self.since is not None or self.until is not None:
            logged = logged_at(record)
            if logged is None:
                return False
            if self.since is not None and logged < self.since:
                return False
            if self.until is not None and logged >= self.until:
                return False
        return True


def logged_at(record: Record) -> datetime | None:
    """When the record was written, or None when it has no readable instant."""
    text = record.get("logged_at")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_line(line: bytes) -> Record | None:
    """One JSON record, or None for a torn or foreign line."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


CAUGHT_UP = None  # yielded once by a following reader when the existing records are read


def read_files(path: Path, *, follow: bool = False, poll: float = 0.2,
               include_rotated: bool = True) -> Iterator[Record | None]:
    """Every record in the rotated files (oldest first), then the current file.

    With ``follow`` it keeps reading as lines are appended, yields ``CAUGHT_UP`` once
    when it first reaches the end, and moves to the new file when the writer rotates
    (the inode under the path changes).
    """
    if include_rotated:
        for rotated in rotated_files(path):
            with rotated.open("rb") as handle:
                yield from _records(handle.read())
    handle = _open(path, follow)
    if handle is None:
        return
    if not follow:
        with handle:
            yield from _records(handle.read())
        return
    yield from _follow(path, handle, poll)


def _follow(path: Path, handle: Any, poll: float) -> Iterator[Record | None]:
    pending = b""
    caught_up = False
    try:
        while True:
            chunk = handle.read()
            if chunk:
                complete, _, pending = (pending + chunk).rpartition(b"\n")
                yield from _records(complete)
                continue
            if not caught_up:
                caught_up = True
                yield CAUGHT_UP
            time.sleep(poll)
            if _rotated(path, handle):
                yield from _records(pending + handle.read())  # written before the rotation
                pending = b""
                handle.close()
                handle = _open(path, True)
    finally:
        handle.close()


def _rotated(path: Path, handle: Any) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def _open(path: Path, follow: bool) -> Any:
    while True:
        try:
            return path.open("rb")
        except FileNotFoundError:
            if not follow:
                return None
            time.sleep(0.2)


def _records(data: bytes) -> Iterator[Record]:
    for line in data.split(b"\n"):
        if line.strip():
            record = parse_line(line)
            if record is not None:
                yield record


def stream_id(instant: datetime) -> str:
    """The first stream id at or after the instant (ids are milliseconds since epoch)."""
    return f"{int(instant.timestamp() * 1000)}-0"


async def newest_id(client: aioredis.Redis, key: str) -> str:
    """The id of the stream's newest entry, or ``0-0`` when it is empty."""
    top: Any = await client.xrevrange(key, "+", "-", count=1)
    return _decode(top[0][0]) if top else "0-0"


async def read_stream(client: aioredis.Redis, key: str, *, since: datetime | None = None,
                      until: datetime | None = None, end: str | None = None,
                      batch: int = 1000) -> AsyncIterator[Record]:
    """Records of every node, oldest first, read a batch at a time (never the whole stream).

    ``end`` (an entry id, inclusive) bounds the range further, e.g. to where a follow starts.
    """
    cursor = stream_id(since) if since else "-"
    last = _bound(until, end)
    while True:
        entries: Any = await client.xrange(key, cursor, last, count=batch)
        for record in _entries(entries):
            yield record
        if len(entries) < batch:
            return
        cursor = "(" + _decode(entries[-1][0])


async def read_stream_newest(client: aioredis.Redis, key: str, *,
                             since: datetime | None = None, until: datetime | None = None,
                             end: str | None = None, batch: int = 1000,
                             ) -> AsyncIterator[Record]:
    """The same range newest first, so ``tail -n N`` stops after N matches."""
    cursor = _bound(until, end)
    first = stream_id(since) if since else "-"
    while True:
        entries: Any = await client.xrevrange(key, cursor, first, count=batch)
        for record in _entries(entries):
            yield record
        if len(entries) < batch:
            return
        cursor = "(" + _decode(entries[-1][0])


async def follow_stream(client: aioredis.Redis, key: str, after: str) -> AsyncIterator[Record]:
    """Every record added after the entry id ``after``, as it arrives."""
    last_id = after
    while True:
        answer: Any = await client.xread({key: last_id}, block=1000, count=500)
        for _, entries in answer or []:
            if entries:
                last_id = _decode(entries[-1][0])
            for record in _entries(entries):
                yield record


def _bound(until: datetime | None, end: str | None) -> str:
    """The inclusive upper id: the smaller of ``until`` and ``end``."""
    bounds = [b for b in (stream_id(until) if until else None, end) if b is not None]
    if not bounds:
        return "+"
    return min(bounds, key=lambda b: tuple(int(part) for part in b.split("-")))


def _entries(entries: Any) -> Iterator[Record]:
    for _, fields in entries:
        record = parse_line(fields.get(b"r", b""))
        if record is not None:
            yield record


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
