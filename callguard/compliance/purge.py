"""Retention: destroy compliance records older than the retention period.

Utah Code 13-44-201 asks for reasonable procedures to protect personal information and
for destroying records of it that are not to be retained; keeping hashed numbers no
longer than needed is one. No subsection is cited: the section's text is not in
shared/law and its numbering has been amended (verify before relying on it), and its
"personal information" (13-44-102: a name with an SSN, account or licence number) may not
reach a hashed phone number at all — callguard applies the practice regardless.

Destroying must never stall a node that is deciding calls, so:

- a closed segment wholly older than the cutoff (its name's stamp is before it) is
  deleted; one wholly newer (its first record at or after it) is left alone; only the
  segment that straddles the cutoff is rewritten — streamed into a temporary file beside
  it, fsynced, then renamed over it. Writers never touch closed segments, so none of this
  takes their lock.
- the current file, when its first record is older than the cutoff, is first closed the
  way the writer closes it (a rename under the writers' exclusive lock, the only moment
  purge holds it), then treated as a closed segment.
- the Redis Stream is trimmed by id (ids are the milliseconds the entry was added).

A segment the embedded call-frequency store's write-back may still read (counts it lost in
an OS restart, proved by records in the segment: ``counts_guard.py``) is kept whole, and
said, until a later purge.

Lines without a readable instant (undated, or torn by a crash) are kept: purge destroys
only what it can show is older than the cutoff. A second maintenance lock keeps purge,
compression and archiving off the same segment at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callguard.compliance.counts_guard import CountsGuard, counts_guard
from callguard.compliance.reader import CLOCK_MARGIN, logged_at, parse_line, stream_id
from callguard.compliance.seekable import compress_lines
from callguard.compliance.segments import Segment, closed_segments, fsync_path, readable
from callguard.compliance.sinks import flocked

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = ["FileAction", "PurgeResult", "maintenance", "purge_files", "purge_stream"]


@dataclass(slots=True)
class FileAction:
    """What purge does (or would do) to one file."""

    path: str
    action: str  # "delete" | "rewrite" | "keep" | "held" (due, kept: counts_guard.py)
    removed: int = 0
    kept: int = 0


@dataclass(slots=True)
class PurgeResult:
    """What a purge destroyed and kept."""

    removed: int = 0
    kept: int = 0
    files_deleted: int = 0
    files_rewritten: int = 0
    files_held: int = 0  # due, kept whole: they prove counts the store has yet to write back
    files: list[FileAction] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, action: FileAction) -> None:
        """Count one file's outcome."""
        self.files.append(action)
        self.removed += action.removed
        self.kept += action.kept
        self.files_deleted += action.action == "delete"
        self.files_rewritten += action.action == "rewrite"
        self.files_held += action.action == "held"


@contextlib.contextmanager
def maintenance(path: Path, *, create: bool = True) -> Iterator[None]:
    """Hold ``<log>.maint`` exclusively: one purge, compression or archiving at a time.

    Not the writers' lock: a node keeps appending while maintenance runs. ``create``
    False (a dry run, which only reads): no lock file is made where none is (no
    maintenance ever ran there, none to wait for); a reading command left a file behind.
    """
    lock = path.with_name(path.name + ".maint")
    if not create:
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            yield
            return
        with flocked(fd):
            yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with flocked(os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)):
        yield


def _older(line: bytes, cutoff: datetime) -> bool:
    record = parse_line(line)
    instant = logged_at(record) if record is not None else None
    return instant is not None and instant < cutoff  # undated or torn: kept, never guessed


def _count(segment: Segment) -> int:
    return sum(1 for line in segment.lines() if line.strip())


def _first_instant(segment: Segment) -> datetime | None:
    first = segment.first_line()
    record = parse_line(first) if first else None
    return logged_at(record) if record is not None else None


def _plan(segment: Segment, cutoff: datetime) -> str:
    if segment.closed_at is not None and segment.closed_at < cutoff:
        return "delete"
    first = _first_instant(segment)
    if first is not None and first >= cutoff + CLOCK_MARGIN:
        return "keep"
    return "rewrite"


def _rewrite(segment: Segment, cutoff: datetime, dry_run: bool) -> FileAction:
    """Stream the newer lines into a temporary file, then rename it over the segment."""
    action = FileAction(str(segment.path), "rewrite")

    def kept() -> Iterator[bytes]:
        for line in segment.lines():
            if not line.strip():
                continue
            if _older(line, cutoff):
                action.removed += 1
            else:
                action.kept += 1
                yield line + b"\n"

    if dry_run:
        for _ in kept():
            pass
        return action
    temp = segment.path.with_name(segment.path.name + ".purging")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if segment.compressed:
                compress_lines(kept(), handle)
            else:
                for line in kept():
                    handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if action.removed == 0:
            temp.unlink()
            action.action = "keep"
            return action
        os.replace(temp, segment.path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_path(segment.path.parent)
    return action


def _close_current(path: Path, cutoff: datetime, dry_run: bool) -> Segment | None:
    """Close the current file when it holds records older than the cutoff.

    Returns it, unclosed, on a dry run (to be counted); else None (it is now a closed
    segment and is listed with them).
    """
    if not path.exists():
        return None
    current = Segment(path, None)
    first = _first_instant(current)
    if first is None or first >= cutoff:
        return None
    if dry_run:
        return current
    from callguard.compliance.sinks import close_segment  # noqa: PLC0415 - the writers' way

    close_segment(path)  # one rename under the writers' lock, as their own rotation
    return None


def purge_files(path: Path, cutoff: datetime, *, dry_run: bool = False,
                counts_store: Path | None = None,
                boot: Callable[[], str | None] | None = None) -> PurgeResult:
    """Remove records logged before ``cutoff`` from the log's files. ``counts_store``: the
    node's ``frequency.sqlite3``, whose write-back may need a segment due (``boot``: this
    boot's id, for tests)."""
    result = PurgeResult()
    with maintenance(path, create=not dry_run):
        straddling = _close_current(path, cutoff, dry_run)
        planned = [(s, _plan(s, cutoff)) for s in map(readable, closed_segments(path))
                   if s is not None]
        guard: CountsGuard | None = None
        if any(plan != "keep" for _, plan in planned):
            guard = counts_guard(path, counts_store, boot=boot)
        for segment, plan in planned:
            if plan != "keep" and guard is not None and guard.holds(segment):
                result.add(FileAction(str(segment.path), "held"))
            elif plan == "delete":
                action = FileAction(str(segment.path), "delete", removed=_count(segment))
                if not dry_run:
                    segment.path.unlink()
                result.add(action)
            elif plan == "rewrite":
                result.add(_rewrite(segment, cutoff, dry_run))
            else:
                result.add(FileAction(str(segment.path), "keep"))
        if straddling is not None and dry_run:
            result.add(_rewrite(straddling, cutoff, dry_run=True))
        if guard is not None and result.files_held:
            result.notes.append(guard.note(result.files_held, "closed segment(s) past the "
                                           "cutoff"))
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
