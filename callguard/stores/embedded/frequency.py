"""Call-frequency counts in SQLite: one file, shared by every process of one node.

One row per counted call and subject (``key`` = the number's keyed hash + subject, ``at_ms``).
The check-and-reserve is one ``BEGIN IMMEDIATE`` transaction: SQLite's write lock
serialises it against every other connection to the file (other processes included), so
the count read and the row added cannot interleave with another check. ``synchronous=FULL``:
the reservation is on disk when the call is allowed. Runs in a worker thread (a fsync must
not stall the event loop); a busy file past ``busy_timeout`` is a StoreError (BLOCK).
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
from callguard.policy.frequency import SKEW_MS, FrequencyClaim, FrequencyResult
from callguard.stores.private import private_database

__all__ = ["EmbeddedFrequency"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frequency (key TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS frequency_by_key ON frequency (key, at_ms);
"""


class EmbeddedFrequency:
    """The check-and-reserve as one SQLite transaction per call."""

    def __init__(self, path: Path, hasher: Callable[[str], str], *, retention_s: int,
                 busy_timeout_ms: int = 2000,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._path = path
        self._clock = clock
        self._hash = hasher
        self._retention_ms = retention_s * 1000
        try:
            private_database(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                       timeout=busy_timeout_ms / 1000)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"call-frequency counts {path}: {exc}") from None
        self._lock = threading.Lock()

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime) -> FrequencyResult:
        """One transaction in a worker thread; StoreError when it did not commit."""
        if not claims:
            return FrequencyResult((), (), None)
        return await asyncio.to_thread(self.reserve_sync, e164, tuple(claims), at)

    def reserve_sync(self, e164: str, claims: tuple[FrequencyClaim, ...],
                     at: datetime) -> FrequencyResult:
        """The transaction itself (also what a synchronous caller may use)."""
        digest = self._hash(e164)
        now = int(at.timestamp() * 1000)
        keep = max(self._retention_ms, *(c.window_s * 1000 for c in claims)) + SKEW_MS
        trim = min(now, int(self._clock().timestamp() * 1000)) - keep
        keys = list(dict.fromkeys(f"{digest}:{c.subject}" for c in claims))
        db = self._db
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("DELETE FROM frequency WHERE key = ? AND at_ms <= ?",
                               [(k, trim) for k in keys])
                counts: list[int] = []
                refused: int | None = None
                for index, claim in enumerate(claims):
                    row = db.execute("SELECT count(*) FROM frequency WHERE key = ? AND "
                                     "at_ms > ?", (f"{digest}:{claim.subject}",
                                                   now - claim.window_s * 1000)).fetchone()
                    counts.append(int(row[0]))
                    if refused is None and counts[-1] >= claim.cap:
                        refused = index
                if refused is None:
                    db.executemany("INSERT INTO frequency (key, at_ms) VALUES (?, ?)",
                                   [(k, now) for k in keys])
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                raise StoreError(f"call-frequency counts {self._path}: {exc}; the call was "
                                 "not counted") from None
        return FrequencyResult(claims, tuple(counts), refused)

    async def aclose(self) -> None:
        """Close the file."""
        self._db.close()
