"""Call-frequency counts in SQLite: one file, shared by every process of one node.

One row per counted call and subject (``key`` = the number's keyed hash + subject, ``at_ms``).
The check-and-reserve is one ``BEGIN IMMEDIATE`` transaction: SQLite's write lock
serialises it against every other connection to the file (other processes included), so
the count read and the row added cannot interleave with another check. ``synchronous=FULL``:
the reservation is on disk when the call is allowed. Runs in a worker thread (a fsync must
not stall the event loop); a busy file past ``busy_timeout`` is a StoreError (BLOCK).
Reservations that arrive while a transaction commits wait and go together in the next one
(group commit, like the compliance log's ``group``): each is checked in turn and sees the
ones before it, and none is answered before the COMMIT is on disk — one fsync per group.

**Counts proved by the compliance log** (``counts_log``): when the node's records go to a
file that is synced before an answer is released (``[log] durability`` ``group`` or
``every``), a granted reservation's rows travel in its decision record (``counted``: the
commit mark, the instant, the subjects; the number is the record's ``number_hash``, the
same keyed hash). The log is then the counts' write-ahead log and the file commits with
``synchronous=NORMAL`` (WAL: a process crash loses nothing; an OS crash or power loss may
lose the last commits, a suffix of them, never corrupting the file). Every opener of the
file, before its first commit, writes back from the logs registered in the file (each
process proving its counts registers its log, durably, and takes it off at a clean close
after one ``FULL`` commit) the rows of every record whose mark is past the file's last
mark: exactly the commits the file lost. A count no record carries (a call no cap
covered, counted after its answer: ``recorded=False``) commits ``FULL`` even so: no
write-back could bring it back. A node that cannot prove
its counts so (no log file, ``durability = "none"``, no boot id) commits ``FULL``, as before; a
registered log that cannot be read when a write-back is due fails the opening (fail
closed: the gate BLOCKs every call a cap covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from callguard.compliance.reader import (
    CLOCK_MARGIN,
    ReadStats,
    RecordFilter,
    log_exists,
    logged_at,
    newest_first,
)
from callguard.errors import StoreError
from callguard.numbers.redact import redact_digits
from callguard.policy.frequency import (
    RECORD_ONLY_CAP,
    SKEW_MS,
    Counted,
    FrequencyClaim,
    FrequencyResult,
    Held,
)
from callguard.stores.embedded.identity import counts_lost_message, establish
from callguard.stores.embedded.opening import files_identity, open_wal
from callguard.stores.embedded.reasons import roll_back_or_close, sqlite_reason
from callguard.stores.frequency_batch import GroupCommit
from callguard.stores.interfaces import CountAfter

__all__ = ["CountsLog", "EmbeddedFrequency", "boot_id"]

_log = structlog.get_logger("callguard.frequency")

# (number, claims, the instant the windows end at, the instant the call is counted at,
# whether a decision record carries its rows): one call's check-and-reserve.
_Reservation = tuple[str, tuple[FrequencyClaim, ...], datetime, datetime, bool]
# (number, claims, the instant the windows end at): one read-only count.
_Count = tuple[str, tuple[FrequencyClaim, ...], datetime]

# Reservations in one transaction at most (the write lock is held while it runs).
GROUP_LIMIT = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frequency (key TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS frequency_by_key ON frequency (key, at_ms);
CREATE TABLE IF NOT EXISTS frequency_mark (one INTEGER PRIMARY KEY CHECK (one = 1),
    mark INTEGER NOT NULL, clock_ms INTEGER NOT NULL, boot TEXT NOT NULL);
INSERT OR IGNORE INTO frequency_mark VALUES (1, 0, 0, '');
CREATE TABLE IF NOT EXISTS frequency_logs (instance TEXT PRIMARY KEY, path TEXT NOT NULL,
    key_id TEXT NOT NULL);
"""
# Each transaction that writes counts takes the next mark (the clock's ms, or one past the
# last mark when the clock is behind it): strictly increasing in commit order, whichever
# process commits. ``clock_ms`` is the clock at that commit (how far back the logs are read).
_MARK = ("UPDATE frequency_mark SET mark = max(mark + 1, ?1), clock_ms = ?1 WHERE one = 1 "
         "RETURNING mark")
_BOOT = "/proc/sys/kernel/random/boot_id"
# Commits between two checkpoints of the WAL (``_Checkpointer``); 0: SQLite's own, in the
# commit that crosses its threshold. A group of 16 new numbers writes ~20 pages: ~640 a
# checkpoint, under SQLite's 1,000.
CHECKPOINT_EVERY = 32
# WAL frames (pages) past which the store's next commit completes the checkpoint the
# checkpointer could not (the WAL then starts over): ~40 MB.
WAL_FRAMES_MAX = 10_000
# The write-back stops reading a log after this many records in a row stamped before its
# horizon (``_lost``), not at the first; after ``_PAST_HORIZON_FIRST`` when it has read
# nothing yet that places it past the lost commits' records (the log's newest records all
# stamped early: a log idle for hours, or a clock stepped back after the lost commits).
_PAST_HORIZON = 1000
_PAST_HORIZON_FIRST = 100_000
# The write-back takes the write lock for as long as it reads the logs.
_WRITE_BACK_TIMEOUT_S = 60.0


def boot_id() -> str | None:
    """This boot of the OS (Linux), or None: an unchanged id means no OS crash since."""
    try:
        with open(_BOOT, encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class CountsLog:
    """The compliance log file whose records prove this process's counts: synced before
    the answer (``group``/``every``), keyed with ``key_id`` (the store's hasher's key)."""

    path: Path
    key_id: str

# A claim's count in its window (rows after ?2), read no further than ?3 rows (its cap:
# whether the cap is reached is all a count decides), and the key's oldest row, each an
# index seek. A key gains a row for every ALLOW, under a cap or not (a number called
# thousands of times a day by a campaign no cap covers): counting every row of the key
# made each reservation cost as many rows as the key held (the SIP benchmark, one number,
# went from 2.4x to 6.7x the null responder).
_READ = ("SELECT count(*) FROM (SELECT 1 FROM frequency WHERE key = ?1 AND at_ms > ?2 "
         "LIMIT ?3)")
# One row of the key stamped at the instant (the newest such row): a release gives back one
# call. Two calls of one number counted at the same millisecond are the same count (every
# count, trim and sweep reads a row's key and instant only), so which of them goes changes
# no count. Used for a ``Held`` without the rows' ids (``Held.member`` empty).
_RELEASE = ("DELETE FROM frequency WHERE rowid = (SELECT rowid FROM frequency WHERE key = ?1 "
            "AND at_ms = ?2 ORDER BY rowid DESC LIMIT 1)")
# The row the reservation inserted (its rowid, kept in ``Held.member``), if still there: a
# release run twice gives back one call, not a second call's row of the same instant (as
# the Redis store's member does).
_RELEASE_ROW = "DELETE FROM frequency WHERE rowid = ?3 AND key = ?1 AND at_ms = ?2"
_COUNT = f"SELECT ({_READ}), (SELECT min(at_ms) FROM frequency WHERE key = ?1)"  # noqa: S608 - constants only


# Rows of numbers never called again are never reserved again, so the per-key trim never
# reaches them: each group also deletes, from the oldest rows (rowid order, which is
# insertion order), those past retention — up to ``_SWEEP`` rows per reservation of the
# group, more than a group inserts, so the table stays at about a retention's worth of
# rows. Rows are only ever deleted past retention (every window + skew): no count changes.
_SWEEP = 4
_SWEEP_SQL = ("DELETE FROM frequency WHERE rowid IN (SELECT rowid FROM frequency "
              "ORDER BY rowid LIMIT ?) AND at_ms <= ?")


def _limit(claim: FrequencyClaim) -> int:
    """How far a claim's count is read: to its cap (counts past it decide nothing); not at
    all for a claim that only records (no rule reads its count)."""
    return 0 if claim.cap == RECORD_ONLY_CAP else claim.cap


class EmbeddedFrequency:
    """The check-and-reserve: one SQLite transaction per group of reservations in flight."""

    def __init__(self, path: Path, hasher: Callable[[str], str], *, retention_s: int,
                 busy_timeout_ms: int = 2000, group_limit: int = GROUP_LIMIT,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 counts_log: CountsLog | None = None,
                 boot: Callable[[], str | None] | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self._path = path
        self._clock = clock
        self._hash = hasher
        self._retention_ms = retention_s * 1000
        self._keep_ms = self._retention_ms + SKEW_MS  # how long the sweep keeps a row
        self._busy_s = busy_timeout_ms / 1000
        self._db = _open(path, self._busy_s)
        # The file's id, in it and beside it (``frequency.id``, identity.py): a file lost,
        # emptied or made anew read every number as never called — a capped number called
        # past its cap, silently. Now every count and reservation is refused (BLOCK).
        try:
            self._lost = establish(self._db, path, what="call-frequency counts",
                                   message=counts_lost_message)
        except BaseException:
            self._db.close()
            raise
        self._identity = files_identity(path)  # the file opened: see reserve_batch
        # Rows written back from the logs at this opening (0: none were lost).
        self.written_back = 0
        this_boot = (boot or boot_id)()
        # Without a boot id an OS restart cannot be told from a process restart: every
        # opening writes back and takes every registration off, live processes' too, so
        # no log can prove counts: FULL.
        proving = counts_log if this_boot is not None else None
        # This opening's row in ``frequency_logs`` (None: its counts commit FULL).
        self._instance = None if proving is None else (
            f"{os.getpid()}:{secrets.token_hex(8)}")
        try:
            self.written_back = self._write_back(proving, this_boot, busy_timeout_ms)
        except BaseException:
            self._db.close()
            raise
        # NORMAL only once this process's log is registered (durably) and the file holds
        # every count the logs prove: from here a lost commit is in a record.
        self.proved_by_log = proving is not None
        if self.proved_by_log:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self._unopened: str | None = None  # why a connection ``_roll_back`` closed is not
        self._checkpointer = _checkpointer(self._db, path, checkpoint_every,
                                           self._lock)
        self._group: GroupCommit[_Reservation, FrequencyResult] = GroupCommit(
            self._commit, limit=group_limit, what=f"call-frequency counts {path}")
        # Read-only counts in flight go to the worker thread together too (a scrub asks
        # one per row: one thread hop per row cost more than the SELECT).
        self._reads: GroupCommit[_Count, tuple[int, ...]] = GroupCommit(
            self._count_group, limit=group_limit, what=f"call-frequency counts {path}")

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None, *,
                      recorded: bool = True) -> FrequencyResult:
        """Queue the check-and-reserve; the reservations waiting together are made in one
        transaction (one fsync) in a worker thread. StoreError when it did not commit.
        ``recorded=False``: no record carries the rows (a count after the answer), so the
        log cannot prove them and their transaction commits ``FULL``."""
        if not claims:
            return FrequencyResult((), (), None)
        return await self._group.submit((e164, tuple(claims), at, stamp or at, recorded))

    async def reserve_all(self, batch: Sequence[CountAfter]
                          ) -> list[FrequencyResult | BaseException]:
        """Counts after their answers, queued at once (``recorded=False``: their
        transaction commits ``FULL``); each its result or its StoreError."""
        futures = self._group.submit_many([(e164, tuple(claims), at, stamp, False)
                                           for e164, claims, at, stamp in batch if claims])
        done = iter(await asyncio.gather(*futures, return_exceptions=True))
        return [next(done) if claims else FrequencyResult((), (), None)
                for _, claims, _, _ in batch]

    async def count(self, e164: str, claims: Sequence[FrequencyClaim],
                    at: datetime) -> tuple[int, ...]:
        """Read only (a scrub): the calls counted per claim in its window; no row written or
        trimmed, no transaction held. StoreError when the file cannot be read."""
        if not claims:
            return ()
        return await self._reads.submit((e164, tuple(claims), at))

    async def _count_group(self, group: Sequence[_Count]) -> list[tuple[int, ...]]:
        return await asyncio.to_thread(self.count_batch, group)

    def count_batch(self, batch: Sequence[_Count]) -> list[tuple[int, ...]]:
        """``count`` of each, for a synchronous caller (no transaction written)."""
        with self._lock:
            self._usable()
            try:
                return [tuple(int(self._db.execute(_READ, (
                    f"{self._hash(e164)}:{c.subject}",
                    c.after_ms(int(at.timestamp() * 1000)), _limit(c))).fetchone()[0])
                    for c in claims) for e164, claims, at in batch]
            except sqlite3.Error as exc:
                raise StoreError(f"call-frequency counts {self._path}: "
                                 f"{sqlite_reason(exc, self._path)}; the count could not be "
                                 "read") from None

    async def _commit(self, group: Sequence[_Reservation]) -> list[FrequencyResult]:
        # Not run_in_executor at submit time: starting the thread at once gave groups half
        # as big and twice the fsyncs, for no measured gain (README, "What a call-frequency
        # cap costs").
        return await asyncio.to_thread(self.reserve_batch, group)

    def reserve_sync(self, e164: str, claims: tuple[FrequencyClaim, ...],
                     at: datetime, stamp: datetime | None = None) -> FrequencyResult:
        """One check-and-reserve in its own transaction (for a synchronous caller)."""
        return self.reserve_batch([(e164, claims, at, stamp or at, True)])[0]

    def reserve_batch(self, batch: Sequence[_Reservation]) -> list[FrequencyResult]:
        """Each check-and-reserve in turn, all in one transaction: each sees the ones before
        it; none is acknowledged before the COMMIT is on disk (``FULL``), or, when the log
        proves the counts, before the COMMIT is in the file (``NORMAL``: the record that
        carries the rows is synced before the answer)."""
        clock_ms = int(self._clock().timestamp() * 1000)
        # Rows no record carries (counted after the answer): the log cannot write them
        # back after an OS crash, so this transaction is on disk when it commits.
        full = self.proved_by_log and not all(r[4] for r in batch)
        lost = "the call was not counted"
        with self._lock:
            # Taken under the lock: a failed ROLLBACK of another thread's transaction
            # closes the connection and opens another (``_roll_back``); taken before, this
            # group ran on the closed one, every call of it BLOCKed (hrev72).
            self._usable()
            db = self._db
            try:
                # A clock set back (the mark ahead of it by half the skew or more): the
                # write-back reads the logs back to an hour before the last durable
                # commit's clock; a record stamped by a clock further back is not read.
                full = full or (self.proved_by_log and int(db.execute(
                    "SELECT mark FROM frequency_mark").fetchone()[0]) - clock_ms
                    >= SKEW_MS // 2)
            except sqlite3.Error as exc:
                raise StoreError(f"call-frequency counts {self._path}: {exc}; {lost}"
                                 ) from None
            with self._transaction(full=full, lost=lost):
                mark = int(db.execute(_MARK, (clock_ms,)).fetchone()[0])
                results = [self._one(e164, claims, at, stamp, clock_ms, mark)
                           for e164, claims, at, stamp, _ in batch]
                # From the earlier of the clock and the group's first instant, as the
                # per-key trim: a call dated in the past keeps what its windows count.
                first = min(int(r[2].timestamp() * 1000) for r in batch)
                db.execute(_SWEEP_SQL, (_SWEEP * len(batch),
                                        min(first, clock_ms) - self._keep_ms))
        return results

    @contextlib.contextmanager
    def _transaction(self, *, full: bool, lost: str) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction around the body, committed ``FULL`` (on disk
        when it returns) when ``full``, else at the connection's level; rolled back and a
        StoreError naming what was ``lost`` when SQLite fails. Under ``self._lock``."""
        self._usable()
        db = self._db
        try:
            if full:
                db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            yield
            db.execute("COMMIT")
            if self._checkpointer is not None:
                self._checkpointer.committed(db)
            self._same_files()
        except sqlite3.Error as exc:
            reason = sqlite_reason(exc, self._path)
            raise StoreError(f"call-frequency counts {self._path}: {reason}; {lost}"
                             f"{self._roll_back(db)}") from None
        finally:
            if full and self.proved_by_log:  # back to the level the log's proof allows
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA synchronous=NORMAL")

    def _roll_back(self, db: sqlite3.Connection) -> str:
        """Undo a failed transaction; "" when ROLLBACK did (or none was open). A ROLLBACK
        SQLite refused closes the connection (``roll_back_or_close``), and a new one is
        opened. Under ``self._lock``."""
        failed = roll_back_or_close(db, self._path)
        if failed is None:
            return ""
        unopened = self._reopen()
        if unopened is not None:
            return (f"; its ROLLBACK failed too ({failed}) and the connection, closed, could "
                    f"not be opened again ({unopened}): it is tried again at the next count")
        return (f"; its ROLLBACK failed too ({failed}): the connection was closed, which "
                "undid it, and opened again")

    def _reopen(self) -> str | None:
        """Open the connection ``_roll_back`` closed anew; None once done, else why not
        (kept in ``_unopened``: the next count tries again). Under ``self._lock``."""
        try:
            fresh = _open(self._path, self._busy_s)
        except StoreError as exc:
            self._unopened = str(exc)
            return self._unopened
        try:
            if self.proved_by_log:
                fresh.execute("PRAGMA synchronous=NORMAL")
            if self._checkpointer is not None:
                fresh.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as exc:
            fresh.close()
            self._unopened = sqlite_reason(exc, self._path)
            return self._unopened
        self._db, self._unopened = fresh, None
        return None

    def _usable(self) -> None:
        """Reopen a connection ``_roll_back`` closed and could not open again; StoreError
        while it still cannot be. It stayed closed: every later count refused ("Cannot
        operate on a closed database"), every call a cap covers BLOCKed until a restart,
        though what kept it closed (no descriptor left) had passed (hrev72). Under
        ``self._lock``. StoreError too for a file found lost at its opening."""
        if self._lost is not None:
            raise StoreError(self._lost)
        if self._unopened is not None and self._reopen() is not None:
            raise StoreError(f"call-frequency counts {self._path}: its connection, closed "
                             f"after a ROLLBACK failed, cannot be opened again "
                             f"({self._unopened}); nothing was counted or read")

    async def release(self, e164: str, held: Held) -> int:
        """Give back a withdrawn ALLOW's reservation (``held``): one row per subject, in one
        transaction committed ``FULL`` (on disk when this returns: an OS crash cannot undo
        it, and the reservation's own commit, before it in the WAL, is synced with it, so
        no write-back from its record brings the row back). The rows removed; StoreError
        when the transaction did not commit (the reservation then stays: conservative)."""
        return await asyncio.to_thread(self.release_sync, e164, held)

    def release_sync(self, e164: str, held: Held) -> int:
        """``release`` for a synchronous caller."""
        digest = self._hash(e164)
        with self._lock, self._transaction(full=True,
                                           lost="the withdrawn call stays counted"):
            db = self._db  # under the lock, as in ``reserve_batch``
            # returned once the transaction committed (an exception at COMMIT replaces it)
            if held.member:  # the rows this reservation inserted, by rowid
                return sum(db.execute(_RELEASE_ROW, (f"{digest}:{subject}", held.stamp_ms,
                                                     int(row))).rowcount
                           for subject, row in zip(held.subjects, held.member.split(","),
                                                   strict=True))
            return sum(db.execute(_RELEASE, (f"{digest}:{subject}", held.stamp_ms)
                                  ).rowcount for subject in held.subjects)

    def _same_files(self) -> None:
        """SQLite (WAL) commits into the files it opened even once their paths are removed
        or renamed over (``opening.files_identity``): those counts are gone at a crash or
        the restart, and another process on the data dir counts in the new files (the cap
        split in two). StoreError: not acknowledged. Under the lock, as the commit."""
        if files_identity(self._path) != self._identity:
            raise StoreError(f"call-frequency counts {self._path}: the file or its -wal or "
                             "-shm was removed or replaced while the node ran; the call was "
                             "not counted: restart the node once the right files are there")

    def _one(self, e164: str, claims: tuple[FrequencyClaim, ...], at: datetime,
             stamp: datetime, clock_ms: int, mark: int) -> FrequencyResult:
        # One SELECT per claim gives its count and the key's oldest row; the DELETE of rows
        # past retention runs only when there are some (a new key, most calls, has none):
        # two statements per reservation instead of three (issue 18: the statements run in
        # the group's commit, which every decision of the group waits for).
        db = self._db
        digest = self._hash(e164)
        now = int(at.timestamp() * 1000)
        keep = max(self._retention_ms, *(c.window_s * 1000 for c in claims)) + SKEW_MS
        self._keep_ms = max(self._keep_ms, keep)  # the sweep keeps every window seen
        # Deleted rows are older than every window (trim <= now - keep), so no count changes.
        trim = min(now, clock_ms) - keep
        counts: list[int] = []
        refused: int | None = None
        stale: set[str] = set()
        for index, claim in enumerate(claims):
            key = f"{digest}:{claim.subject}"
            count, oldest = db.execute(_COUNT, (key, claim.after_ms(now),
                                                _limit(claim))).fetchone()
            if oldest is not None and oldest <= trim:
                stale.add(key)
            counts.append(int(count))
            if refused is None and count >= claim.cap:
                refused = index
        for key in stale:
            db.execute("DELETE FROM frequency WHERE key = ? AND at_ms <= ?", (key, trim))
        if refused is None:
            stamp_ms = int(stamp.timestamp() * 1000)
            subjects = tuple(dict.fromkeys(c.subject for c in claims))
            rows = [db.execute("INSERT INTO frequency (key, at_ms) VALUES (?, ?)",
                               (f"{digest}:{subject}", stamp_ms)).lastrowid
                    for subject in subjects]
            return FrequencyResult(claims, tuple(counts), None, counted=Counted(
                mark, stamp_ms, subjects) if self.proved_by_log else None,
                held=Held(stamp_ms, subjects, ",".join(map(str, rows))))
        return FrequencyResult(claims, tuple(counts), refused)

    def _write_back(self, log: CountsLog | None, boot: str | None, timeout_ms: int) -> int:
        """Register ``log``; after an OS restart, write back the rows of every record of
        the registered logs whose mark is past the file's last one. One ``FULL``
        transaction under the write lock: no process commits before it is done."""
        db = self._db
        db.execute(f"PRAGMA busy_timeout={int(max(timeout_ms, _WRITE_BACK_TIMEOUT_S * 1000))}")
        try:
            db.execute("BEGIN IMMEDIATE")
            last, clock_ms, known_boot = db.execute(
                "SELECT mark, clock_ms, boot FROM frequency_mark").fetchone()
            written = 0
            # Same boot: no OS crash since the last write-back, so no commit was lost (a
            # process crash loses nothing in WAL mode). Unknown boot: always read.
            if boot is None or boot != known_boot:
                logs = db.execute("SELECT DISTINCT path, key_id FROM frequency_logs"
                                  ).fetchall()
                newest = last
                for path, key_id in logs:
                    for mark, key, stamp_ms in _lost(Path(path), key_id, last, clock_ms):
                        db.execute("INSERT INTO frequency (key, at_ms) VALUES (?, ?)",
                                   (key, stamp_ms))
                        newest = max(newest, mark)
                        written += 1
                db.execute("UPDATE frequency_mark SET mark = ?, boot = ? WHERE one = 1",
                           (newest, boot or ""))
                # The processes that registered them died with the OS: their rows are back.
                db.execute("DELETE FROM frequency_logs")
            if log is not None:
                db.execute("INSERT INTO frequency_logs VALUES (?, ?, ?)",
                           (self._instance, str(log.path.resolve()), log.key_id))
            db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            raise StoreError(f"call-frequency counts {self._path}: {exc}; the counts could "
                             "not be proved complete") from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                db.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
        return written


    def refusing(self) -> str | None:
        """Why every count is refused (the file found lost at its opening), or None:
        /readyz's ``frequency_counts``."""
        return self._lost

    async def aclose(self) -> None:
        """Close the file; a process whose counts its log proves first makes them durable
        (one ``FULL`` commit syncs the WAL, every earlier commit with it) and takes its log
        off the file's list: a log no longer written (renamed, removed) is not read."""
        if self._instance is not None:
            with self._lock, contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("DELETE FROM frequency_logs WHERE instance = ?",
                                 (self._instance,))
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()


def _lost(path: Path, key_id: str, last: int, clock_ms: int
          ) -> list[tuple[int, str, int]]:
    """(mark, key, instant) of each row carried by a record of ``path`` whose mark is past
    ``last``: the commits the file lost. Read newest first, back to an hour (the skew the
    counts already allow between clocks) before the file's last commit: a record is
    written after its commit, within its answer's time. OSError when the log cannot be
    read or was written with another key (fail closed)."""
    if not log_exists(path):
        raise OSError(f"the compliance log {path} that proves counts is gone")
    horizon = datetime.fromtimestamp((min(clock_ms, last) - SKEW_MS) / 1000, UTC
                                     ) - CLOCK_MARGIN
    rows: list[tuple[int, str, int]] = []
    past = 0  # records in a row stamped before the horizon
    # Not the reader's ``since``: it stops at the first record stamped before it, and one
    # written late but stamped early (a clock stepped back, a stalled writer) then hid
    # every older line, lost commits' records among them. The walk stops only after
    # ``_PAST_HORIZON`` such records in a row, once it has read a record stamped at or
    # after the horizon or one whose count the file kept: a lost commit's record is stamped
    # after the horizon (it committed NORMAL: its clock within half the skew of its mark),
    # so a log whose newest records are all stamped early may be one where the clock was
    # stepped back after the lost commits, and decisions that commit nothing (BLOCKs) wrote
    # them; the walk reads up to ``_PAST_HORIZON_FIRST`` of them before it gives up.
    stop = _PAST_HORIZON_FIRST
    for record in newest_first(path, RecordFilter(), ReadStats()):
        logged = logged_at(record)
        counted = record.get("counted")
        if logged is not None and logged < horizon:
            past += 1
            if past >= stop:
                break
        else:
            past = 0
            stop = _PAST_HORIZON
        if not counted or counted.get("mark", 0) <= last:
            if counted:  # a commit the file kept: the lost ones' records are newer
                stop = _PAST_HORIZON
                if past >= stop:
                    break
            continue
        if record.get("key_id") != key_id:
            raise OSError(f"a record of {path} proving a count was hashed with key "
                          f"{record.get('key_id')}, not {key_id}")
        try:
            digest = record["number_hash"]
            rows.extend((int(counted["mark"]), f"{digest}:{subject}",
                         int(counted["stamp_ms"])) for subject in counted["subjects"])
        except (KeyError, TypeError, ValueError) as exc:
            raise OSError(f"a record of {path} proving a count cannot be read back "
                          f"({type(exc).__name__}: {exc})") from None
    return rows


class _Checkpointer:
    """Copies the WAL into the file from a thread and connection of its own, every
    ``every`` commits, so no group waits for it.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000 WAL pages: that
    group's transaction then also copied the pages and paid the checkpoint's two fsyncs
    (the WAL's, the file's), some milliseconds every ~50 groups, while every decision of
    the group waited (a third of the worker's mean wall time per group, session 16). A
    ``PASSIVE`` checkpoint runs beside the writers and readers of every process and changes
    nothing a commit made durable; one that fails is retried at the next signal (the WAL
    grows meanwhile, as it would behind a long reader)."""

    def __init__(self, path: Path, every: int, idle: threading.Lock) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            # A checkpoint syncs the WAL before it copies and the file after, as its own
            # connection says (not the build's default): one that did not could let the
            # WAL restart over frames whose pages are not yet on disk.
            self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error:
            self._db.close()
            raise
        self._idle = idle  # the store's lock: held while a group is written
        # Set by the thread when the WAL is past ``WAL_FRAMES_MAX`` and the store was busy:
        # the store's next commit completes the checkpoint itself (``committed``).
        self.overdue = False
        self.completed = 0
        self.failed = 0
        self._every = every
        self._commits = 0
        self._wake = threading.Event()
        self._stopping = False
        self.checkpoints = 0
        self._thread = threading.Thread(target=self._run, name="frequency-checkpoint",
                                        daemon=True)
        self._thread.start()

    def committed(self, db: sqlite3.Connection) -> None:
        """A transaction was committed on ``db`` (called under the store's lock). When the
        thread found the WAL past ``WAL_FRAMES_MAX`` with the store never idle, complete a
        checkpoint here: under the lock no frame is added, so it copies the few the
        thread's left and the WAL starts over (a thread waiting for the lock seldom got it:
        a tight loop of commits re-took it first, and the WAL grew on)."""
        if self.overdue:
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the commit stands; retried at the next one
                _checkpoint_failed(exc)
            else:
                self.overdue = False
                self.completed += 1
        self._commits += 1
        if self._commits >= self._every:
            self._commits = 0
            self._wake.set()

    def _run(self) -> None:
        failing = False
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._checkpoint()
            # Any error: the thread must not end (the WAL would grow for ever, unsaid).
            except Exception as exc:  # noqa: BLE001
                self.failed += 1
                if not failing:  # once until one succeeds (it is retried every few commits)
                    _checkpoint_failed(exc)
                failing = True
            else:
                if failing:
                    _log.info("frequency_checkpoint_recovered")
                failing = False

    def _checkpoint(self) -> None:
        """One PASSIVE checkpoint; a second under the store's lock to complete it."""
        _, frames, _ = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        # The store wrote on meanwhile, so that checkpoint left the last frames;
        # the WAL restarts only after one that copied every frame. When no group
        # is being written, copy the few left (under the store's lock: no frame
        # is added meanwhile); else at the next signal — unless the WAL has grown
        # past ``WAL_FRAMES_MAX`` (a store never idle): then the store's next commit
        # completes it (``overdue``, ``committed``).
        if self._idle.acquire(blocking=False):
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.completed += 1
                self.overdue = False
            finally:
                self._idle.release()
        elif frames > WAL_FRAMES_MAX:
            self.overdue = True

    def close(self) -> None:
        """Stop the thread (after a checkpoint under way) and close its connection."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self._db.close()


def _checkpoint_failed(exc: BaseException) -> None:
    _log.warning("frequency_checkpoint_failed",
                 error=redact_digits(str(exc)) or type(exc).__name__,
                 effect="the counts' WAL grows until a checkpoint succeeds")


def _checkpointer(db: sqlite3.Connection, path: Path, every: int, lock: threading.Lock
                  ) -> _Checkpointer | None:
    """Checkpoints off the commits' path (``_Checkpointer``); None (SQLite checkpoints in
    the commit, as before) when ``every`` is 0 or its connection cannot be had."""
    if every <= 0:
        return None
    try:
        checkpointer = _Checkpointer(path, every, lock)
    except sqlite3.Error:
        return None
    db.execute("PRAGMA wal_autocheckpoint=0")
    return checkpointer


def _open(path: Path, timeout_s: float) -> sqlite3.Connection:
    """The store's connection, WAL and schema in place; StoreError when it cannot be had
    (a first opening racing another process is retried: callguard.stores.embedded.opening).
    """
    try:
        db = open_wal(path, _SCHEMA, timeout_s=timeout_s, check_same_thread=False)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"call-frequency counts {path}: {exc}") from None
    try:
        db.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"call-frequency counts {path}: {exc}") from None
    return db
