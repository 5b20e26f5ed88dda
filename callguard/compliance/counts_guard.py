"""Closed segments the embedded call-frequency store may still need: kept by archive/purge.

When the node's counts are proved by its compliance log (``stores/embedded/frequency.py``),
``frequency.sqlite3`` commits with ``synchronous=NORMAL``: a commit is in the file (the OS's
page cache) but on disk only after the next WAL sync (a checkpoint, a ``FULL`` commit, the
last connection's close). After an OS crash the file keeps its commits up to some mark and
the next opener writes back, from the records of every registered log, the rows of each
record whose ``counted.mark`` is past the file's mark. Deleting a closed segment that holds
such a record loses those counts for good (and deleting every file of a registered log makes
the write-back fail closed: every capped call BLOCKed). So, before a segment is deleted (or
rewritten without some of its records):

- no ``frequency.sqlite3``, or this log not registered in it: no write-back will read the log
  (a process takes its log off only after a ``FULL`` commit; a write-back takes them all off
  after its own ``FULL`` commit) — nothing is held;
- registered, and the file's boot id is this boot's (no OS restart since its last
  write-back): every record in a closed segment was written after its commit, so its mark is
  at most the file's; the WAL file (and its directory entry) is fsynced here, which puts every
  one of those commits on disk — nothing is held after that sync;
- registered and the file's boot id is another's (the OS restarted and no opener has written
  back yet), or this host has no boot id: the file's mark is all that survived; a segment
  holding a record whose mark is past it (or a line naming ``counted`` that cannot be read)
  is held until an opener (``callguard serve``) has written those counts back.

Read-only on the store: a query-only connection, closed before the WAL is fsynced through a
descriptor of its own (never the database file itself: closing a second descriptor of it
would drop the POSIX locks of any SQLite connection of this process).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callguard.compliance.reader import parse_line
from callguard.compliance.segments import Segment, fsync_path

__all__ = ["CountsGuard", "counts_guard"]

_COUNTED = b'"counted"'


@dataclass(slots=True)
class CountsGuard:
    """Whether a closed segment must be kept for the store's write-back, and why."""

    last_mark: int | None = None  # None: nothing is held; else held past this mark
    hold_all: str | None = None  # the store could not be read: every segment is held
    reason: str = ""

    def holds(self, segment: Segment) -> bool:
        """True when deleting ``segment`` could lose counts the write-back needs."""
        if self.hold_all is not None:
            return True
        if self.last_mark is None:
            return False
        for line in segment.lines():
            if _COUNTED not in line:
                continue
            record = parse_line(line)
            counted = record.get("counted") if record is not None else None
            try:
                mark = int(counted["mark"]) if isinstance(counted, dict) else None
            except (KeyError, TypeError, ValueError):
                mark = None
            if mark is None or mark > self.last_mark:
                return True  # a lost count, or one that cannot be read back: kept
        return False

    def note(self, held: int, what: str) -> str:
        """What a run says of the segments it kept."""
        return (f"kept {held} {what}: {self.hold_all or self.reason}; they are deleted by a "
                "later run once the counts are back in the store")


def counts_guard(log: Path, store: Path | None, *,
                 boot: Callable[[], str | None] | None = None) -> CountsGuard:
    """The guard for the closed segments of ``log`` against the counts file ``store``.

    Call it after the segments to delete are listed (the WAL sync must come after their
    records' commits) and before any is deleted."""
    if store is None or not store.exists():
        return CountsGuard()
    if boot is None:
        from callguard.stores.embedded.frequency import boot_id  # noqa: PLC0415

        boot = boot_id
    try:
        db = sqlite3.connect(f"file:{store}?mode=rw", uri=True, timeout=10.0,
                             isolation_level=None)
    except sqlite3.Error as exc:
        return _unreadable(store, exc)
    try:
        db.execute("PRAGMA query_only=1")
        db.execute("BEGIN")  # one snapshot: the mark and the registrations together
        try:
            last, known_boot = db.execute(
                "SELECT mark, boot FROM frequency_mark").fetchone()
            paths = {row[0] for row in db.execute("SELECT path FROM frequency_logs")}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return CountsGuard()  # no counts proved by any log in this file
            raise
    except (sqlite3.Error, TypeError) as exc:
        return _unreadable(store, exc)
    finally:
        with contextlib.suppress(sqlite3.Error):
            db.close()
    if str(log.resolve()) not in paths:
        return CountsGuard()
    try:
        # The WAL as it is now, every commit made before this call in it (one made after it
        # is in a record of the current file or of a segment listed later).
        with contextlib.suppress(FileNotFoundError):  # gone: checkpointed whole at a close
            fsync_path(Path(f"{store}-wal"))
        fsync_path(store.parent)
    except OSError as exc:
        return CountsGuard(hold_all=f"the call-frequency counts {store} could not be "
                                    f"synced ({exc}): they may not be on disk yet")
    this_boot = boot()
    if this_boot is not None and this_boot == known_boot:
        return CountsGuard()
    return CountsGuard(last_mark=int(last), reason=(
        f"they hold call-frequency counts that {store} lost in an OS restart (its records' "
        f"marks are past the file's, {int(last)}); the store writes them back from these "
        "segments when callguard next opens it (`callguard serve`)"))


def _unreadable(store: Path, exc: BaseException) -> CountsGuard:
    """Fail closed: what cannot be read may hold a write-back's counts."""
    return CountsGuard(hold_all=f"the call-frequency counts {store} could not be read "
                                f"({exc}): segments that may prove its counts are kept")
