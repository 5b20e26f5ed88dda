"""The files of one compliance log: the current file and its closed (rotated) segments.

The writer renames a full file to ``<name>.<UTC stamp>Z`` (the instant it was closed), so a
closed segment holds records logged at or before its stamp; ``callguard archive`` later
compresses it to ``<name>.<stamp>Z.zst`` (seekable zstd, ``seekable.py``). Readers see
either form through one interface and never load a file whole: lines come in bounded
blocks, oldest first or newest first.

Between the compressed copy's rename and the plain file's removal both exist and hold the
same lines; the listing keeps one of them (the plain one) per stamp.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from callguard.compliance.seekable import iter_frames

__all__ = ["BLOCK", "Segment", "closed_segments", "fsync_path", "lines_backward", "lines_forward",
           "readable", "stamp_name"]

BLOCK = 1 << 16  # bytes read per step when walking a plain file
# A line longer than this is not a record (one is a few KB): a torn tail (NUL blocks a crash
# left). Walking back over it keeps its start and its last LONG_LINE bytes only (a record
# glued behind it is whole there), read back as a torn line.
LONG_LINE = 1 << 22
_STAMP = re.compile(r"(\d{8}T\d{6})(\d{0,6})Z(\.zst)?")


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _suffix_stamp(suffix: str) -> datetime | None:
    """The UTC instant of a suffix like ``20261125T180000123456Z[.zst]``, else None."""
    match = _STAMP.fullmatch(suffix)
    if match is None:
        return None
    try:
        instant = datetime.strptime(match[1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return instant.replace(microsecond=int((match[2] or "0").ljust(6, "0")))


def stamp_name(path: Path, instant: datetime) -> Path:
    """The closed-segment name the writer uses for ``path`` closed at ``instant``."""
    return path.with_name(f"{path.name}.{instant.astimezone(UTC):%Y%m%dT%H%M%S%f}Z")


@dataclass(frozen=True, slots=True)
class Segment:
    """One file of the log: closed (with the instant it was closed) or the current one."""

    path: Path
    closed_at: datetime | None  # None: the current file, still written to

    @property
    def compressed(self) -> bool:
        """Seekable zstd (read by frames) rather than plain JSON lines."""
        return self.path.name.endswith(".zst")

    @property
    def plain(self) -> Path:
        """The uncompressed name of this segment."""
        return self.path.with_suffix("") if self.compressed else self.path

    def lines(self) -> Iterator[bytes]:
        """Every line, oldest first, a block or a frame at a time."""
        if self.compressed:
            for frame in iter_frames(self.path):
                yield from frame
            return
        with self.path.open("rb") as handle:
            yield from lines_forward(handle)

    def lines_newest_first(self) -> Iterator[bytes]:
        """Every line, newest first; stopping early reads only the end of the file."""
        if self.compressed:
            for frame in iter_frames(self.path, newest_first=True):
                yield from reversed(frame)
            return
        with self.path.open("rb") as handle:
            yield from lines_backward(handle, handle.seek(0, os.SEEK_END))

    def first_line(self) -> bytes | None:
        """The oldest line (whose ``logged_at`` starts the segment's time range)."""
        return next((line for line in self.lines() if line.strip()), None)


def closed_segments(path: Path) -> list[Segment]:
    """The closed segments of the log at ``path``, oldest first (one per stamp)."""
    found: dict[datetime, Segment] = {}
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    prefix = path.name + "."
    for name in names:
        if not name.startswith(prefix):
            continue
        stamp = _suffix_stamp(name[len(prefix):])
        if stamp is None:
            continue  # the lock file, or a temporary file beside a segment
        segment = Segment(path.parent / name, stamp)
        if stamp not in found or not segment.compressed:
            found[stamp] = segment
    return [found[stamp] for stamp in sorted(found)]


def lines_forward(handle: BinaryIO, *, block: int = BLOCK * 16,
                  end: int | None = None) -> Iterator[bytes]:
    """Complete lines from the handle's position to its end (or offset ``end``); a last
    unterminated line too."""
    # The line being read, its blocks in order: joined once its newline is found, not per
    # block (a long torn line, NUL blocks a crash left, was quadratic, as lines_backward was).
    pending: list[bytes] = []
    left = end - handle.tell() if end is not None else None
    while left is None or left > 0:
        chunk = handle.read(block if left is None else min(block, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        if b"\n" not in chunk:
            pending.append(chunk)
            continue
        pending.append(chunk)
        lines = b"".join(pending).split(b"\n")
        pending = [lines.pop()]
        yield from (line for line in lines if line)
    if last := b"".join(pending):
        yield last


def lines_backward(handle: BinaryIO, end: int, *, block: int = BLOCK) -> Iterator[bytes]:
    """Lines before offset ``end``, newest first, reading ``block`` bytes at a time."""
    position = end
    # The start of the line being read, its blocks newest first: joined once its newline is
    # found, not per block (a long torn tail, NUL blocks a crash left, was quadratic).
    head: list[bytes] = []
    while position > 0:
        size = min(block, position)
        position -= size
        handle.seek(position)
        chunk = handle.read(size)
        if b"\n" not in chunk:
            head.append(chunk)
            if len(head) * block > LONG_LINE:
                # never the whole line: its oldest block and its last LONG_LINE bytes or so,
                # whole, as a record glued behind a torn line (before hlog23) is kept there
                del head[-2]
            continue
        parts = (chunk + b"".join(reversed(head))).split(b"\n")
        head = [parts[0]]
        for line in reversed(parts[1:]):
            if line:
                yield line
    if line := b"".join(reversed(head)):
        yield line


def readable(segment: Segment) -> Segment | None:
    """The segment as it is now on disk (a plain one may have just been compressed)."""
    if segment.path.exists():
        return segment
    if not segment.compressed:
        packed = segment.path.with_name(segment.path.name + ".zst")
        if packed.exists():
            return Segment(packed, segment.closed_at)
    return None

