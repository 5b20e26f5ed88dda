"""Opening an embedded store's SQLite file: WAL, schema, and the race of two first openers.

Two processes opening a new file at once (a node and a CLI command, or two nodes) race for
the lock that switching to WAL and creating the tables take, and SQLite answers "database
is locked" there without waiting for its busy timeout. The whole opening is retried until
the timeout, as a busy write would be; any other error is the caller's to report.

SQLite in WAL mode goes on reading and writing the files it opened once their paths are
removed or renamed over (no rollback journal, so no ``SQLITE_READONLY_DBMOVED``): a commit
into a removed ``-wal`` is gone at a crash, one into a removed database at the restart, and
what another process writes into the new files is never seen. ``files_identity`` names the
three files a store opened, so it can tell (``open_wal`` leaves ``-wal`` and ``-shm`` in
place for as long as a connection is open: SQLite removes them only at the last close).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from callguard.stores.private import private_database

__all__ = ["OPEN_TIMEOUT_S", "files_identity", "open_wal"]

# sqlite3.connect's own default busy timeout: what the record and tally stores always had.
OPEN_TIMEOUT_S = 5.0


def open_wal(path: Path, schema: str, *, timeout_s: float = OPEN_TIMEOUT_S,
             check_same_thread: bool = True,
             migrate: Callable[[sqlite3.Connection], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> sqlite3.Connection:
    """A connection to ``path`` (made private), in WAL mode with ``schema`` in place.

    Raises sqlite3.Error or OSError when it cannot be had; "locked" only once
    ``timeout_s`` has passed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        db: sqlite3.Connection | None = None
        try:
            private_database(path)
            db = sqlite3.connect(path, isolation_level=None,
                                 check_same_thread=check_same_thread, timeout=timeout_s)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
            if migrate is not None:
                migrate(db)
        except sqlite3.OperationalError as exc:
            if db is not None:
                db.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            sleep(0.02)
            continue
        except BaseException:
            if db is not None:
                db.close()
            raise
        return db


FileIdentity = tuple[tuple[int, int] | None, ...]


def files_identity(path: Path) -> FileIdentity:
    """The device and inode of the database, its ``-wal`` and its ``-shm`` (None for a
    path that names nothing): a change means a file was removed or replaced."""
    found: list[tuple[int, int] | None] = []
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            stat = os.stat(name)
        except OSError:
            found.append(None)
        else:
            found.append((stat.st_dev, stat.st_ino))
    return tuple(found)
