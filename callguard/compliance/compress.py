"""Compressing closed log segments: plain JSON lines to seekable zstd, off the hot path.

Run by ``callguard archive`` (its own process, niced), never by a node that decides:
the writer only renames a full file; compression reads it afterwards. The compressed
copy is written beside it (``.zst.part``), fsynced, read back and compared (SHA-256 of
its lines) before it is renamed into place and the plain file removed, so a crash at any
point leaves at least one complete copy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from callguard.compliance.purge import maintenance
from callguard.compliance.seekable import compress_lines, iter_frames
from callguard.compliance.segments import Segment, closed_segments, fsync_path

__all__ = ["compress_closed", "compress_segment"]


def compress_segment(segment: Segment) -> Path:
    """Write ``<segment>.zst`` from the plain segment, verify it, remove the plain one."""
    target = segment.path.with_name(segment.path.name + ".zst")
    temp = target.with_name(target.name + ".part")
    written = hashlib.sha256()

    def lines() -> Iterator[bytes]:
        for line in segment.lines():
            data = line + b"\n"
            written.update(data)
            yield data

    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            compress_lines(lines(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        _verify(temp, written.digest(), segment.path)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)
    segment.path.unlink()
    return target


def _verify(temp: Path, digest: bytes, original: Path) -> None:
    check = hashlib.sha256()
    for frame in iter_frames(temp):
        for line in frame:
            check.update(line + b"\n")
    if check.digest() != digest:
        raise OSError(f"{temp}: compressed copy differs from {original}; kept plain")


def compress_closed(path: Path) -> list[Path]:
    """Compress every plain closed segment of the log at ``path``; returns the new files."""
    done = []
    with maintenance(path):
        for segment in closed_segments(path):
            if not segment.compressed:
                done.append(compress_segment(segment))
    return done
