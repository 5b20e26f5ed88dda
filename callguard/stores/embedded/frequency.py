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
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from callguard.errors import StoreError
from callguard.policy.frequency import (
    RECORD_ONLY_CAP,
    SKEW_MS,
    FrequencyClaim,
    FrequencyResult,
)
from callguard.stores.embedded.opening import open_wal
from callguard.stores.frequency_batch import GroupCommit

__all__ = ["EmbeddedFrequency"]

# (number, claims, the instant the windows end at, the instant the call is counted at):
# one call's check-and-reserve.
_Reservation = tuple[str, tuple[FrequencyClaim, ...], datetime, datetime]
# (number, claims, the instant the windows end at): one read-only count.
_Count = tuple[str, tuple[FrequencyClaim, ...], datetime]

# Reservations in one transaction at most (the write lock is held while it runs).
GROUP_LIMIT = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frequency (key TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS frequency_by_key ON frequency (key, at_ms);
"""

# A claim's count in its window (rows after ?2), read no further than ?3 rows (its cap:
# whether the cap is reached is all a count decides), and the key's oldest row, each an
# index seek. A key gains a row for every ALLOW, under a cap or not (a number called
# thousands of times a day by a campaign no cap covers): counting every row of the key
# made each reservation cost as many rows as the key held (the SIP benchmark, one number,
# went from 2.4x to 6.7x the null responder).
_READ = ("SELECT count(*) FROM (SELECT 1 FROM frequency WHERE key = ?1 AND at_ms > ?2 "
         "LIMIT ?3)")
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
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._path = path
        self._clock = clock
        self._hash = hasher
        self._retention_ms = retention_s * 1000
        self._keep_ms = self._retention_ms + SKEW_MS  # how long the sweep keeps a row
        self._db = _open(path, busy_timeout_ms / 1000)
        self._lock = threading.Lock()
        self._group: GroupCommit[_Reservation, FrequencyResult] = GroupCommit(
            self._commit, limit=group_limit, what=f"call-frequency counts {path}")
        # Read-only counts in flight go to the worker thread together too (a scrub asks
        # one per row: one thread hop per row cost more than the SELECT).
        self._reads: GroupCommit[_Count, tuple[int, ...]] = GroupCommit(
            self._count_group, limit=group_limit, what=f"call-frequency counts {path}")

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None) -> FrequencyResult:
        """Queue the check-and-reserve; the reservations waiting together are made in one
        transaction (one fsync) in a worker thread. StoreError when it did not commit."""
        if not claims:
            return FrequencyResult((), (), None)
        return await self._group.submit((e164, tuple(claims), at, stamp or at))

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
            try:
                return [tuple(int(self._db.execute(_READ, (
                    f"{self._hash(e164)}:{c.subject}",
                    c.after_ms(int(at.timestamp() * 1000)), _limit(c))).fetchone()[0])
                    for c in claims) for e164, claims, at in batch]
            except sqlite3.Error as exc:
                raise StoreError(f"call-frequency counts {self._path}: {exc}; the count "
                                 "could not be read") from None

    async def _commit(self, group: Sequence[_Reservation]) -> list[FrequencyResult]:
        # Not run_in_executor at submit time: starting the thread at once gave groups half
        # as big and twice the fsyncs, for no measured gain (README, "What a call-frequency
        # cap costs").
        return await asyncio.to_thread(self.reserve_batch, group)

    def reserve_sync(self, e164: str, claims: tuple[FrequencyClaim, ...],
                     at: datetime, stamp: datetime | None = None) -> FrequencyResult:
        """One check-and-reserve in its own transaction (for a synchronous caller)."""
        return self.reserve_batch([(e164, claims, at, stamp or at)])[0]

    def reserve_batch(self, batch: Sequence[_Reservation]) -> list[FrequencyResult]:
        """Each check-and-reserve in turn, all in one transaction: each sees the ones before
        it; none is acknowledged before the COMMIT is on disk."""
        db = self._db
        clock_ms = int(self._clock().timestamp() * 1000)
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE")
                results = [self._one(e164, claims, at, stamp, clock_ms)
                           for e164, claims, at, stamp in batch]
                # From the earlier of the clock and the group's first instant, as the
                # per-key trim: a call dated in the past keeps what its windows count.
                first = min(int(r[2].timestamp() * 1000) for r in batch)
                db.execute(_SWEEP_SQL, (_SWEEP * len(batch),
                                        min(first, clock_ms) - self._keep_ms))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                raise StoreError(f"call-frequency counts {self._path}: {exc}; the call was "
                                 "not counted") from None
        return results

    def _one(self, e164: str, claims: tuple[FrequencyClaim, ...], at: datetime,
             stamp: datetime, clock_ms: int) -> FrequencyResult:
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
            for key in dict.fromkeys(f"{digest}:{c.subject}" for c in claims):
                db.execute("INSERT INTO frequency (key, at_ms) VALUES (?, ?)",
                           (key, int(stamp.timestamp() * 1000)))
        return FrequencyResult(claims, tuple(counts), refused)

    async def aclose(self) -> None:
        """Close the file."""
        self._db.close()


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
