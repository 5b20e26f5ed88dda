"""Whether anyone committed to a SQLite WAL database, read from its wal-index for ~0.1 us.

Every process that opens a WAL database maps its ``-shm`` file, the wal-index, whose header
(https://www.sqlite.org/walformat.html) holds ``iChange``: a counter SQLite increments with
every committed write transaction (and every WAL restart), whoever commits it. Reading it
tells a process that something changed since it last looked, without a query: ``PRAGMA
data_version`` answers the same but costs most of a read (a shared lock, a transaction).

Valid while a connection of this process keeps the database open in WAL mode: that
connection holds the wal-index's dead-man-switch lock (no other process may truncate or
rebuild the file under the mapping) and a shared lock on the database (no process may take
it out of WAL mode). Those are POSIX locks, which a process drops on *every* descriptor of
a file when it closes *any* of them: closing our descriptor of the ``-shm`` file would
drop the locks of every SQLite connection of this process to that database. So a mapping
is made once per file (device and inode) and never closed: one descriptor per database
file the process ever watched.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from pathlib import Path

__all__ = ["WalChangeCounter"]

_HEADER = struct.Struct("=IIIBBH")  # iVersion, unused, iChange, isInit, bigEndCksum, szPage
_WAL_INDEX_VERSION = 3007000
_MAPPED = 4096  # the header is the first 136 bytes; SQLite sizes the file in 32 KiB pages

_MAPS: dict[tuple[int, int], mmap.mmap] = {}
_MAPS_LOCK = threading.Lock()


class WalChangeCounter:
    """``read()``: the database's change counter; it differs after any commit."""

    __slots__ = ("_map",)

    def __init__(self, shm: mmap.mmap) -> None:
        self._map = shm

    @classmethod
    def of(cls, database: Path) -> WalChangeCounter | None:
        """The counter of ``database``, which a connection of ours holds open in WAL mode;
        None when its wal-index is missing or not the documented one (then callers read
        the database itself)."""
        shm_path = f"{database}-shm"
        try:
            stat = os.stat(shm_path)
        except OSError:
            return None
        with _MAPS_LOCK:
            shm = _MAPS.get((stat.st_dev, stat.st_ino))
            if shm is None:
                try:
                    fd = os.open(shm_path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError:
                    return None
                # Neither the descriptor nor the mapping's duplicate of it is ever closed
                # (module doc): a mapping that cannot be made keeps its descriptor open.
                opened = os.fstat(fd)
                try:
                    shm = mmap.mmap(fd, _MAPPED, access=mmap.ACCESS_READ)
                except (OSError, ValueError):
                    return None
                _MAPS[(opened.st_dev, opened.st_ino)] = shm
        version, _, _, initialised, _, _ = _HEADER.unpack_from(shm, 0)
        if version != _WAL_INDEX_VERSION or not initialised:
            return None
        return cls(shm)

    def read(self) -> int:
        """The change counter (first copy of the header, written last by a commit)."""
        value: int = _HEADER.unpack_from(self._map, 0)[2]
        return value
