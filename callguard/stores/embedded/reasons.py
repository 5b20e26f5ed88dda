"""What an SQLite error means, said so an operator can act on it.

SQLite's own words leave the cause out: a full file system comes back as "disk I/O error"
(when the ``-shm`` file cannot grow) as often as "database or disk is full", and "database
is locked" (SQLITE_BUSY) does not say that another process has held the write lock past
the busy timeout, nor "database disk image is malformed" that the file was cut short; and
"database table is locked" (SQLITE_LOCKED) is a conflict inside this process, not another
one. SQLite's words stay in the reason; this adds what they mean and what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from callguard.stores.embedded.opening import OPEN_TIMEOUT_S

__all__ = ["roll_back_or_close", "sqlite_reason"]

_LOW = 256 * 1024  # bytes free under which a write failing for I/O is put down to space


def _free(path: Path) -> int | None:
    """Bytes an unprivileged writer may still use on ``path``'s file system, or None."""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def sqlite_reason(exc: sqlite3.Error, path: Path) -> str:
    """``exc``'s text, and what it means for the store at ``path``."""
    text = str(exc)
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_LOCKED") or "table is locked" in text:
        # SQLITE_LOCKED is a conflict inside this process (one connection's statement still
        # reading a table another statement of it changes, or a shared cache), never a
        # lock held by another process: that is SQLITE_BUSY, "database is locked".
        return (f"{text}: a conflict inside this process (SQLITE_LOCKED: a statement of the "
                "same connection still reads the table), not a lock held by another "
                "process. Report it as a callguard bug; restarting the node clears it")
    if "locked" in text or name.startswith("SQLITE_BUSY"):
        return (f"{text}: another process has held its write lock for more than "
                f"{OPEN_TIMEOUT_S:g} s (a `sqlite3` shell left in a transaction, a backup "
                "or copy tool?); end it")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text:
        return (f"{text}: the file is damaged (cut short, overwritten, or copied while it "
                "was written?); stop the node, restore the whole data dir from one backup, "
                "and re-record the changes the compliance log journals after it")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")) or "disk" in text:
        free = _free(path)
        if name.startswith("SQLITE_FULL") or (free is not None and free < _LOW):
            shown = "" if free is None else f", {free // 1024:,} KiB free"
            return f"{text}: the file system holding it is full{shown}; free space"
    return text


def roll_back_or_close(db: sqlite3.Connection, path: Path) -> str | None:
    """Undo ``db``'s open transaction after a failed write; None when ROLLBACK did (or no
    transaction was open, or the connection is closed already). Else SQLite refused the
    ROLLBACK: passed over, the connection stayed inside the transaction — the write lock
    held (every other process's writes waited, then failed) and every later transaction
    here refused ("cannot start a transaction within a transaction") until a restart. So
    ``db`` is closed, which ends the transaction unwritten, and the refusal's reason is
    returned: the caller opens another connection (the record store and the counts, each
    its own way)."""
    try:
        open_now = db.in_transaction
    except sqlite3.Error:  # closed: no transaction left
        return None
    if not open_now:
        return None
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        failed = sqlite_reason(exc, path)
    else:
        return None
    with contextlib.suppress(sqlite3.Error):
        db.close()  # ends the transaction: nothing of it is kept
    return failed
