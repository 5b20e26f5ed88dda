"""Consent, business-relationship and company do-not-call records in SQLite (WAL).

Reads run on the calling thread: an indexed read of a cached page takes a few
microseconds, less than a hop to a worker thread. Writes run in a worker thread
with ``synchronous=FULL``, so a write returns only once it is on disk. The file and its
``-wal``/``-shm`` are 0600 (``stores.private``): they hold numbers and consent evidence.

The company do-not-call list is read on every call, and almost every answer is "none":
the store keeps in memory a hash of every (solicitor, number) the table holds, and reads
the table only for a number whose hash is there. The set is exact across processes: a
trigger logs every insert in ``company_dnc_added`` (whoever writes: this node, another
``serve`` on the data dir, ``callguard records add``), and before each lookup the store
compares the database's change counter (``WalChangeCounter``) with the one its set was
read at; on a change it reads the log past its last row first. Rows are never removed
from the set (a removed record is then found absent by the read): it only ever holds
more than the table, so "not in the set" is "not in the table".

The files must stay the ones at their paths (``opening.files_identity``): a write into a
removed database or ``-wal`` is gone at the restart or a crash, and a record ``callguard
records add`` writes into new files is never read. Each write (after its commit), and a
do-not-call lookup at most once a second (three stats cost ~5 us, too much for every
call), compare the paths' devices and inodes with the opened files': a change is a
StoreError from then on (the write not acknowledged, the call BLOCKed, /readyz not ready)
until the node is restarted on the right files.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from time import monotonic

from callguard.errors import StoreError
from callguard.policy import CompanyDncRecord, ConsentKind, ConsentRecord, EbrRecord
from callguard.stores.embedded.changes import WalChangeCounter
from callguard.stores.embedded.identity import establish, lost_now
from callguard.stores.embedded.opening import OPEN_TIMEOUT_S, files_identity, open_wal
from callguard.stores.embedded.reasons import roll_back_or_close, sqlite_reason
from callguard.stores.stored_times import stored_date, stored_instant
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordSheet,
    RecordWrite,
    RevokeConsent,
    StoredConsent,
    check_canonical,
)

__all__ = ["EmbeddedRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
    id INTEGER PRIMARY KEY,
    solicitor TEXT NOT NULL,
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    window_start TEXT,
    window_end TEXT,
    source TEXT NOT NULL,
    evidence TEXT NOT NULL,
    revoked_source TEXT
);
CREATE INDEX IF NOT EXISTS consent_by_number ON consent (solicitor, number);
CREATE TABLE IF NOT EXISTS ebr (
    solicitor TEXT NOT NULL,
    number TEXT NOT NULL,
    last_transaction TEXT,
    last_inquiry TEXT,
    ended_at TEXT,
    PRIMARY KEY (solicitor, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS company_dnc (
    solicitor TEXT NOT NULL,
    number TEXT NOT NULL,
    added_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (solicitor, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS company_dnc_added (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    solicitor TEXT NOT NULL,
    number TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS company_dnc_insert AFTER INSERT ON company_dnc BEGIN
    INSERT INTO company_dnc_added (solicitor, number) VALUES (NEW.solicitor, NEW.number);
END;
CREATE TRIGGER IF NOT EXISTS company_dnc_update AFTER UPDATE OF solicitor, number
ON company_dnc BEGIN
    INSERT INTO company_dnc_added (solicitor, number) VALUES (NEW.solicitor, NEW.number);
END;
CREATE TRIGGER IF NOT EXISTS company_dnc_delete AFTER DELETE ON company_dnc BEGIN
    DELETE FROM company_dnc_added WHERE solicitor = OLD.solicitor AND number = OLD.number;
END;
"""

# Above this many company do-not-call records the set is not kept (about 70 bytes each):
# every lookup reads the table, as before.
DNC_SET_LIMIT = 2_000_000
# How often a do-not-call lookup compares the files opened with the paths (module doc).
_CHECK_FILES_S = 1.0


def _dt(text: str | None, record: str, column: str) -> datetime | None:
    return stored_instant(text, record, column) if text else None


def _d(text: str | None, record: str, column: str) -> date | None:
    return stored_date(text, record, column) if text else None


# The records a stored time belongs to, as a refusal names them (stores.stored_times).
_CONSENT = "the record store's %s consent of the number"
_EBR = "the record store's business relationship record of the number"
_DNC = "the record store's company do-not-call record of the number"


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _connect_writer(path: Path) -> sqlite3.Connection:
    """The connection every write goes through, committing ``FULL`` (on disk at return)."""
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                             timeout=OPEN_TIMEOUT_S)
    try:
        writer.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error:
        writer.close()
        raise
    return writer


def _migrate(db: sqlite3.Connection) -> None:
    """Stores made before revocations had a source gain the column."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(consent)")}
    if "revoked_source" not in columns:
        db.execute("ALTER TABLE consent ADD COLUMN revoked_source TEXT")


class EmbeddedRecords:
    """All three record kinds in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            self._reader = open_wal(path, _SCHEMA, migrate=_migrate)
        except OSError as exc:
            raise StoreError(f"record store {path}: {exc.strerror}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"record store {path}: {sqlite_reason(exc, path)}") from None
        try:
            self._writer = _connect_writer(path)
        except sqlite3.Error as exc:
            self._reader.close()
            raise StoreError(f"record store {path}: {sqlite_reason(exc, path)}") from None
        try:  # a lost or replaced store refuses every read and write (identity.py)
            self._lost = establish(self._writer, path)
        except StoreError:
            self.close()
            raise
        self._identity = files_identity(path)  # the file opened (module doc)
        self._checked_at = monotonic()  # when a lookup last compared it
        self._moved = False  # a comparison found another file: every lookup refused
        self._write_lock = threading.Lock()
        self._unwritable: str | None = None  # a writer that could not be opened again
        # The company do-not-call set (module doc): hashes, the change counter it was read
        # at, and the last log row read. None: not read yet (or not kept: too large).
        self._changes: WalChangeCounter | None = None  # mapped by keep_dnc_set
        self._dnc: set[int] | None = None
        self._dnc_change = -1
        self._dnc_seq = 0

    @property
    def lost(self) -> str | None:
        """Why this store was found lost or replaced at its opening (identity.py), or None."""
        return self._lost

    async def aclose(self) -> None:
        """Close both connections."""
        self.close()

    def close(self) -> None:
        """Close both connections."""
        self._dnc = None
        self._changes = None
        self._reader.close()
        self._writer.close()

    def _refuse_if_lost(self) -> None:
        if self._lost is not None:  # with the restart hint once the way out is done
            raise StoreError(lost_now(self._path, self._lost))

    def _read(self, sql: str, args: tuple[str, ...]) -> list[tuple[str | None, ...]]:
        self._refuse_if_lost()
        try:
            return self._reader.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            reason = sqlite_reason(exc, self._path)
            raise StoreError(f"record store {self._path}: {reason}") from None

    def _write_sync(
        self, writes: list[list[tuple[str, tuple[object, ...]]]]
    ) -> tuple[int, ...]:
        with self._write_lock:
            if self._unwritable is not None:
                # Tried again: what stopped it (no descriptor left) may have passed; it
                # refused every write until a restart — opt-outs not recorded (hrev72).
                try:
                    self._writer = _connect_writer(self._path)
                except sqlite3.Error:
                    raise StoreError(self._unwritable) from None
                self._unwritable = None
            try:
                self._writer.execute("BEGIN IMMEDIATE")
                changed = []
                for statements in writes:
                    counts = [self._writer.execute(sql, args).rowcount
                              for sql, args in statements]
                    changed.append(counts[0])
                self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                reason = sqlite_reason(exc, self._path)
                undone = self._roll_back()
                raise StoreError(f"record store {self._path}: write failed "
                                 f"({reason}){undone}") from None
        self._same_file()  # committed into a file no longer at the path: not acknowledged
        return tuple(changed)

    def _roll_back(self) -> str:
        """Undo the failed write's transaction; "" when ROLLBACK did, else what was done.

        A ROLLBACK SQLite refused raised its raw error (callguard:internal-error, naming
        nothing) and left the writer inside the transaction: holding the write lock, every
        other process's write waited then failed, and every later write here failed
        ("cannot start a transaction within a transaction"). Closing the connection ends
        the transaction unwritten (``roll_back_or_close``); a new one is opened. Under
        ``_write_lock``."""
        failed = roll_back_or_close(self._writer, self._path)
        if failed is None:
            return ""
        try:
            self._writer = _connect_writer(self._path)
        except sqlite3.Error as exc:
            self._unwritable = (
                f"record store {self._path}: cannot write: its write connection was closed "
                f"after a ROLLBACK failed ({failed}) and could not be opened again "
                f"({sqlite_reason(exc, self._path)}); it is tried again at each write "
                "(restart the node if this goes on)")
            return f"; its ROLLBACK failed too ({failed}): {self._unwritable}"
        return (f"; its ROLLBACK failed too ({failed}): the write connection was closed, "
                "which undid it, and opened again")

    def _same_file(self) -> None:
        """Raise StoreError when a path no longer names the file opened (module doc)."""
        self._checked_at = monotonic()
        if self._moved or files_identity(self._path) != self._identity:
            self._moved = True
            raise StoreError(
                f"record store {self._path}: the file or its -wal or -shm was removed or "
                "replaced while the node ran; it still reads and writes the files it opened, "
                "no longer at those paths: restart the node once the right files are there")

    async def consents(self, solicitor: str, e164: str) -> tuple[ConsentRecord, ...]:
        """Every consent of the number to the solicitor."""
        rows = self._read(
            "SELECT kind, granted_at, expires_at, revoked_at, window_start, window_end "
            "FROM consent WHERE solicitor = ? AND number = ? ORDER BY id", (solicitor, e164))
        return tuple(
            ConsentRecord(
                kind=ConsentKind(str(kind)),
                granted_at=stored_instant(str(granted), _CONSENT % kind, "granted_at"),
                expires_at=_dt(expires, _CONSENT % kind, "expires_at"),
                revoked_at=_dt(revoked, _CONSENT % kind, "revoked_at"),
                window=(time.fromisoformat(start), time.fromisoformat(end))
                if start and end else None,
            )
            for kind, granted, expires, revoked, start, end in rows
        )

    async def ebr(self, solicitor: str, e164: str) -> EbrRecord | None:
        """The relationship record, or None."""
        rows = self._read("SELECT last_transaction, last_inquiry, ended_at FROM ebr "
                          "WHERE solicitor = ? AND number = ?", (solicitor, e164))
        if not rows:
            return None
        transaction, inquiry, ended = rows[0]
        return EbrRecord(_d(transaction, _EBR, "last_transaction"),
                         _d(inquiry, _EBR, "last_inquiry"),
                         _dt(ended, _EBR, "ended_at"))

    def keep_dnc_set(self) -> None:
        """Read the company do-not-call set now and keep it (module doc); a long-running
        node calls this at start. Left as it was when the table holds more than
        ``DNC_SET_LIMIT`` records or the wal-index cannot be read."""
        if self._dnc is not None or self._lost is not None:
            return
        changes = WalChangeCounter.of(self._path)
        if changes is None:
            return
        change = changes.read()  # before reading: the set is then at least this recent
        try:
            self._reader.execute("BEGIN")
            try:
                seq = self._reader.execute(
                    "SELECT coalesce(max(seq), 0) FROM company_dnc_added").fetchone()[0]
                if self._reader.execute("SELECT count(*) FROM company_dnc").fetchone()[0] > (
                        DNC_SET_LIMIT):
                    return
                dnc = {hash(pair) for pair in
                       self._reader.execute("SELECT solicitor, number FROM company_dnc")}
            finally:
                self._reader.execute("COMMIT")
        except sqlite3.Error as exc:
            reason = sqlite_reason(exc, self._path)
            raise StoreError(f"record store {self._path}: {reason}") from None
        self._dnc, self._dnc_seq, self._dnc_change = dnc, int(seq), change
        self._changes = changes

    def _dnc_absent(self, solicitor: str, e164: str) -> bool:
        """True when the table certainly holds no record of the pair (module doc)."""
        dnc = self._dnc
        if dnc is None or self._changes is None:
            return False
        change = self._changes.read()  # before reading the log (as in keep_dnc_set)
        if change != self._dnc_change:
            try:
                rows = self._reader.execute(
                    "SELECT seq, solicitor, number FROM company_dnc_added WHERE seq > ? "
                    "ORDER BY seq", (self._dnc_seq,)).fetchall()
            except sqlite3.Error as exc:
                reason = sqlite_reason(exc, self._path)
                raise StoreError(f"record store {self._path}: {reason}") from None
            if rows:
                dnc.update(hash((solicitor, number)) for _, solicitor, number in rows)
                self._dnc_seq = int(rows[-1][0])
                if len(dnc) > DNC_SET_LIMIT:  # grown too large to keep: read the table
                    self._dnc = None
                    return False
            self._dnc_change = change
        return hash((solicitor, e164)) not in dnc

    async def company_dnc(self, solicitor: str, e164: str) -> CompanyDncRecord | None:
        """The do-not-call record, or None."""
        self._refuse_if_lost()
        if self._moved or monotonic() - self._checked_at >= _CHECK_FILES_S:
            self._same_file()  # a record written into new files is never read: refuse
        if self._dnc_absent(solicitor, e164):
            return None
        rows = self._read("SELECT added_at, source FROM company_dnc "
                          "WHERE solicitor = ? AND number = ?", (solicitor, e164))
        if not rows:
            return None
        added, source = rows[0]
        return CompanyDncRecord(stored_instant(str(added), _DNC, "added_at"), str(source))

    async def apply(self, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
        """All writes in one transaction; durable (synchronous=FULL) on return."""
        check_canonical(writes)
        self._refuse_if_lost()
        return await asyncio.to_thread(self._write_sync, [_statements(w) for w in writes])

    async def sheet(self, solicitor: str, e164: str) -> RecordSheet:
        """Everything stored about the number for the solicitor."""
        rows = self._read(
            "SELECT source, evidence, revoked_source FROM consent "
            "WHERE solicitor = ? AND number = ? ORDER BY id", (solicitor, e164))
        consents = await self.consents(solicitor, e164)
        return RecordSheet(
            consents=tuple(StoredConsent(record, str(source), str(evidence), revoked)
                           for record, (source, evidence, revoked) in zip(consents, rows,
                                                                           strict=True)),
            ebr=await self.ebr(solicitor, e164),
            company_dnc=await self.company_dnc(solicitor, e164),
        )


def _statements(write: RecordWrite) -> list[tuple[str, tuple[object, ...]]]:
    """The SQL of one write; the first statement's row count is the write's result."""
    match write:
        case AddConsent(solicitor, number, record, source, evidence):
            window = record.window
            row = (solicitor, number, record.kind.value, _utc(record.granted_at),
                   _utc(record.expires_at) if record.expires_at else None,
                   window[0].isoformat() if window else None,
                   window[1].isoformat() if window else None, source, evidence)
            # The same consent again (a retried write, a file imported twice) is not a
            # second one: nothing is inserted and the write changed nothing.
            return [(
                "INSERT INTO consent (solicitor, number, kind, granted_at, expires_at, "
                "window_start, window_end, source, evidence) "
                "SELECT ?,?,?,?,?,?,?,?,? WHERE NOT EXISTS (SELECT 1 FROM consent WHERE "
                "solicitor = ? AND number = ? AND kind = ? AND granted_at = ? "
                "AND expires_at IS ? AND window_start IS ? AND window_end IS ? "
                "AND source = ? AND evidence = ?)", row + row)]
        case RevokeConsent(solicitor, number, _, at, source):
            # Every kind the revocation ends, padded to one placeholder per kind there is
            # (a repeated kind matches nothing more): one fixed statement; a fifth kind makes
            # sqlite refuse the bindings, so the write fails loudly rather than half-revokes.
            kinds = [k.value for k in write.ends]
            kinds += kinds[:1] * (len(ConsentKind) - len(kinds))
            return [(
                "UPDATE consent SET revoked_at = ?, revoked_source = ? WHERE solicitor = ? "
                "AND number = ? AND kind IN (?,?,?,?) AND revoked_at IS NULL",
                (_utc(at), source, solicitor, number, *kinds))]
        case RecordEbr(solicitor, number, transaction, inquiry):
            return [(
                "INSERT INTO ebr (solicitor, number, last_transaction, last_inquiry) "
                "VALUES (?,?,?,?) ON CONFLICT (solicitor, number) DO UPDATE SET "
                "last_transaction = nullif(max(coalesce(last_transaction, ''), "
                "coalesce(excluded.last_transaction, '')), ''), "
                "last_inquiry = nullif(max(coalesce(last_inquiry, ''), "
                "coalesce(excluded.last_inquiry, '')), '')",
                (solicitor, number, transaction.isoformat() if transaction else None,
                 inquiry.isoformat() if inquiry else None))]
        case EndEbr(solicitor, number, at, _):
            return [("UPDATE ebr SET ended_at = ? WHERE solicitor = ? AND number = ? "
                     "AND ended_at IS NULL", (_utc(at), solicitor, number))]
        case AddCompanyDnc(solicitor, number, at, source):
            return [
                ("INSERT OR IGNORE INTO company_dnc (solicitor, number, added_at, source) "
                 "VALUES (?,?,?,?)", (solicitor, number, _utc(at), source)),
                ("UPDATE ebr SET ended_at = ? WHERE solicitor = ? AND number = ? "
                 "AND ended_at IS NULL", (_utc(at), solicitor, number)),
            ]
