"""Retention: destroy compliance records older than the retention period.

Utah Code 13-44-201 asks for reasonable procedures to protect personal information;
keeping hashed numbers no longer than needed is one. Files are rewritten under the
log's exclusive lock (writers hold it shared for each append), and the Redis stream is
trimmed by id (ids are the milliseconds the entry was added).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from redis import asyncio as aioredis

from callguard.compliance.reader import logged_at, parse_line, stream_id
from callguard.compliance.sinks import exclusive, rotated_files

__all__ = ["PurgeResult", "purge_files", "purge_stream"]


@dataclass(slots=True)
class PurgeResult:
    """What a purge destroyed and kept."""

    removed: int = 0
    kept: int = 0
    files_deleted: int = 0


def _keep(line: bytes, cutoff: datetime) -> bool:
    record = parse_line(line)
    if record is None:
        return False  # torn or foreign lines hold nothing worth keeping
    instant = logged_at(record)
    return instant is None or instant >= cutoff  # undated lines: keep, never guess


def _purge_file(path: Path, cutoff: datetime, dry_run: bool, result: PurgeResult, *,
                current: bool) -> None:
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    kept = [line for line in lines if _keep(line, cutoff)]
    result.removed += len(lines) - len(kept)
    result.kept += len(kept)
    if dry_run or len(kept) == len(lines):
        return
    if not kept and not current:
        path.unlink()
        result.files_deleted += 1
        return
    temp = path.with_name(path.name + ".purging")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(b"".join(line + b"\n" for line in kept))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def purge_files(path: Path, cutoff: datetime, *, dry_run: bool = False) -> PurgeResult:
    """Remove records logged before ``cutoff`` from the log file and its rotations."""
    result = PurgeResult()
    with exclusive(path):
        for target in [*rotated_files(path), path]:
            if target.exists():
                _purge_file(target, cutoff, dry_run, result, current=target == path)
    return result


async def purge_stream(client: aioredis.Redis, key: str, cutoff: datetime, *,
                       dry_run: bool = False) -> int:
    """Trim stream entries added before ``cutoff``; returns how many (or would be)."""
    if dry_run:
        count, cursor, end = 0, "-", "(" + stream_id(cutoff)
        while True:
            batch: Any = await client.xrange(key, cursor, end, count=10_000)
            count += len(batch)
            if len(batch) < 10_000:
                return count
            entry_id = batch[-1][0]
            cursor = "(" + (entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
    return int(await client.xtrim(key, minid=stream_id(cutoff), approximate=False))
