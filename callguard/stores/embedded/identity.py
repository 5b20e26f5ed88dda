"""The record store's identity: a lost or replaced ``records.sqlite3`` is not an empty one.

A node that finds no record file at start creates one, and an empty store answers "none" to
"did this number opt out?": a called party who asked not to be called (47 CFR
64.1200(d)(3)) would be called again after a lost disk or a data dir restored without
the file. So at its creation the store gets a random id, kept in the database
(``callguard_meta``) and beside it in a small file (``records.id``, written temp + fsync +
rename + directory fsync, after the database's commit). At every opening:

- neither holds an id: a new store (a first start, or one made before this check): both
  get one;
- the database holds one, the file none (the file removed): the file is written again;
- the file holds one and the database none or another: the records are lost or replaced.
  The store then refuses every read and write (the gate BLOCKs ``callguard:store-unavailable``,
  ``/readyz`` is not ready: as a Redis store that lost its data), and says how to accept
  the store: remove ``records.id``, re-import (writes are refused before), restart. A
  running node keeps refusing until it restarts, so it BLOCKs while the records go in.

A copy of the store (a backup, SQLite's ``.backup``) carries the id: putting it back is
accepted. A stale copy is not told from the current one: this catches a store gone, not
one rolled back.

The operator's way out (the id file removed) is recorded: beside the store the data dir
keeps ``records.last-store`` ("<backend> <id>", the store the node last served from, the
Redis backend's marker as its id), which the way out does not remove. A start that finds
another store than it names writes one ``store-adopted`` compliance record (the backend,
the previous and new ids, the records in the store then), before any call is decided, and
then names the new one (``adoption``: the pure rule; ``Runtime.note_store``). No such
file (a first store, or a data dir from before it) is remembered quietly: a store replaced
across that first start is not told from a first install. A running node told of the way
out (the id file gone, or written anew by an import) keeps refusing, but says to restart
it (``lost_now``).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from callguard.compliance.segments import fsync_path
from callguard.errors import StoreError

__all__ = ["LAST_STORE_FILE", "Adoption", "Identity", "adoption", "count_records",
           "counts_lost_message", "establish",
           "id_path", "judge", "lost_message", "lost_now", "read_last_store",
           "remember_last_store", "store_id_of", "write_atomically"]

LAST_STORE_FILE = "records.last-store"
_RECORD_TABLES = ("consent", "ebr", "company_dnc")

_log = structlog.get_logger("callguard.records")

_SCHEMA = "CREATE TABLE IF NOT EXISTS callguard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


@dataclass(frozen=True, slots=True)
class Identity:
    """What an opening found: ``write_db`` / ``write_file`` the id to store, or ``lost``."""

    store_id: str | None
    write_db: bool = False
    write_file: bool = False
    lost: bool = False


def judge(in_db: str | None, in_file: str | None, fresh: str) -> Identity:
    """The pure rule (module doc): what the database and the id file hold decide."""
    if in_file is None:
        if in_db is None:
            return Identity(fresh, write_db=True, write_file=True)
        return Identity(in_db, write_file=True)
    if in_db != in_file:
        return Identity(None, lost=True)
    return Identity(in_db)


def id_path(path: Path) -> Path:
    """``records.sqlite3`` → ``records.id``, beside it."""
    return path.with_name(path.stem + ".id")


def counts_lost_message(path: Path) -> str:
    """The call-frequency counts' refusal: their file lost or made anew (emptied by a
    crash, removed, a data dir restored without it) reads every number as never called,
    and a capped number would be called past its cap (e.g. Fla. Stat. 501.616(6)(b))."""
    name = id_path(path).name
    return (f"call-frequency counts not the ones {name} names: put the right {path.name} "
            f"back, or accept that the calls counted in it are gone (remove {name}, then "
            f"restart the node; wait out the longest cap window first to be sure) ({path}: "
            "lost, emptied or made anew; every call a cap covers is BLOCKed until then)")


def lost_message(path: Path) -> str:
    """What the operator reads: the error of every refused call and write, and /readyz's
    records check, which keeps its first 200 characters: the way out comes first."""
    name = id_path(path).name
    return (f"record store not the one {name} names: put the right {path.name} back, or "
            f"remove {name} and re-import (internal-dnc/consent/ebr import); then restart "
            f"the node ({path}: lost, replaced or made anew, it may miss opt-outs; every "
            "call is BLOCKed until then)")


def establish(db: sqlite3.Connection, path: Path, *, what: str = "record store",
              message: Callable[[Path], str] = lost_message) -> str | None:
    """Check (and on a new store, write) the identity; the lost message, or None.

    ``db`` must commit durably (``synchronous=FULL``). Raises StoreError when the id file
    cannot be read or written: whether the store is the right one is then unknown.
    ``what`` names the store in errors and the log, ``message`` says the way out (the
    call-frequency counts use it too: ``counts_lost_message``).
    """
    where = id_path(path)
    try:
        in_file: str | None = where.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        in_file = None
    except OSError as exc:
        raise StoreError(f"{what} {path}: cannot read {where}: {exc.strerror}") from None
    try:
        db.execute(_SCHEMA)
        row = db.execute("SELECT value FROM callguard_meta WHERE key = 'store_id'").fetchone()
        found = judge(row[0] if row else None, in_file, secrets.token_hex(16))
        if found.lost:
            # The way out in the log too: an operator who reads the log, not /readyz,
            # otherwise learns only that something is lost, not what to do.
            said = message(path)
            _log.error(f"{what.replace(' ', '-')}-lost", path=str(path), id_file=str(where),
                       detail=said)
            return said
        store_id = found.store_id
        if found.write_db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR IGNORE INTO callguard_meta VALUES ('store_id', ?)",
                           (store_id,))
                # Two first openers at once: the id the first one committed.
                store_id = db.execute(
                    "SELECT value FROM callguard_meta WHERE key = 'store_id'").fetchone()[0]
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise StoreError(f"{what} {path}: {exc}") from None
    if found.write_file and store_id is not None:
        try:
            write_atomically(where, store_id + "\n")
        except OSError as exc:
            raise StoreError(f"{what} {path}: cannot write {where}: "
                             f"{exc.strerror}") from None
        if not found.write_db:
            _log.warning(f"{what.replace(' ', '-')}-id-rewritten", path=str(path),
                         id_file=str(where))
    return None


def write_atomically(where: Path, text: str) -> None:
    """Temp file, fsync, rename over, directory fsync: the id is whole and durable."""
    temp = where.with_name(f".{where.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, where)
    fsync_path(where.parent)


@dataclass(frozen=True, slots=True)
class Adoption:
    """A store this data dir had not served from: what its ``store-adopted`` record says."""

    backend: str
    store_id: str
    previous_backend: str | None
    previous_id: str | None


def adoption(last: tuple[str, str] | None, backend: str,
             store_id: str) -> tuple[Adoption | None, bool]:
    """The pure rule (module doc): the adoption to record (or None), and whether to
    remember ``(backend, store_id)`` as the last store."""
    if last == (backend, store_id):
        return None, False
    if last is None:  # a first store, or a data dir from before records.last-store
        return None, True
    previous_backend, previous_id = last
    return Adoption(backend, store_id, previous_backend or None, previous_id or None), True


def read_last_store(where: Path) -> tuple[str, str] | None:
    """``(backend, id)`` of ``records.last-store``; None when there is none. An unreadable
    content is ``("", "")``: a previous store, not named. StoreError when it cannot be read."""
    try:
        text = where.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"record store: cannot read {where}: {exc.strerror}") from None
    parts = text.split()
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def remember_last_store(where: Path, backend: str, store_id: str) -> None:
    """Name the store served from, durably; StoreError when it cannot be written."""
    try:
        write_atomically(where, f"{backend} {store_id}\n")
    except OSError as exc:
        raise StoreError(f"record store: cannot write {where}: {exc.strerror}") from None


def count_records(path: Path) -> int:
    """Consents, EBRs and company do-not-call entries in ``records.sqlite3`` (rows)."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"record store {path}: {exc}") from None
    try:
        return sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                   for table in _RECORD_TABLES)
    except sqlite3.Error as exc:
        raise StoreError(f"record store {path}: {exc}") from None
    finally:
        db.close()


def store_id_of(path: Path) -> str | None:
    """The id ``records.id`` names (None: none, or unreadable)."""
    try:
        return id_path(path).read_text(encoding="ascii", errors="replace").strip() or None
    except OSError:
        return None


_told: set[Path] = set()  # stores whose pending acceptance was logged (once each)


def lost_now(path: Path, message: str) -> str:
    """The refusal of a lost store now: ``message``, or once the operator did the way out
    while the node runs (the id file removed, or written again from the database by an
    import) that a restart is what is left — the node keeps refusing until then."""
    where = id_path(path)
    in_file = store_id_of(path)
    if in_file is not None:
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                row = db.execute(
                    "SELECT value FROM callguard_meta WHERE key = 'store_id'").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return message
        if row is None or row[0] != in_file:
            return message
    pending = (f"restart the node: {path.name} and {where.name} agree again ({where.name} "
               "removed or written anew by an import, or the right store put back), so the "
               "store is accepted at the next start; until then every call is BLOCKed (this "
               "process still refuses the store it found lost)")
    if path not in _told:
        _told.add(path)
        _log.warning("record-store-accepted-restart-needed", path=str(path), detail=pending)
    return pending
