"""The archive on disk: day-partitioned Parquet files and the manifest that names them.

Layout under ``<data_dir>/archive`` (``--archive DIR``)::

    manifest.json                      the files that make up the archive, and what was
                                       archived (segments by name, the stream's last id)
    decisions/day=2026-11-25/*.parquet one row per decision (columns.py), zstd
    events/day=2026-11-25/*.parquet    every other record kind
    decisions/months/m-2026-09-*.parquet  one file for the compacted days of an old month
    events/months/m-2026-09-*.parquet     (manifest version 3), ``day`` a column in it
    numbers/n-*.parquet                the number table: each number hash of a compacted
                                       decision once, with its id (number_id)
    .staging/                          files being written (never read)
    .lock                              one writer (archive, compaction, purge) at a time

A day is the UTC date of ``logged_at``. New records land in small "parts"; once a day is
over, compaction rewrites its parts as one file sorted by number, so a lookup by number
reads the footer and one row group per day. Deduplication is by decision id (decisions)
and by content (other records): at compaction, and when reading parts not yet compacted.

Layouts of a decisions file (``Part.layout``): 1, every row holds its number hash (32
bytes) and its decision id (16) — parts, and days compacted before manifest version 2;
2 (compacted days since), the hash is replaced by ``number_id``, the number's id in the
number table (a number is called on several days but rarely twice a day, so the hash is
stored once for all days instead of once a row), and a decision id whose UUIDv7
millisecond equals ``at``'s is stored as its last 10 bytes (``decision_tail``); any other
id stays whole in ``decision_id``. Readers rebuild both exactly (``union_view``).
The number table is global, not per day: a per-day table would store each hash once a
day, i.e. about once a row. Purge rewrites it keeping only the ids still referenced.

Month files (``Part.until`` set): every scan opens every file it reads, and five years
of days are ~1,830 files per table (~0.2 s a scan whatever the rows). So the days of a
whole UTC month that ended a while ago are rewritten as one file per table, sorted by
number as a day is, with ``day`` a column (not a directory): five years are ~60 files
and the recent days. The manifest records the days a month file holds (rows and hashing
keys per day); a reader of a range filters a month file by its ``day`` column. Only
compacted days are rolled up; a record archived late for such a day rewrites its month.
The archive's oldest month stays in day files: purge takes whole days, and a month file
the cutoff falls in is rewritten as the day files of the days it keeps (once; later
purges drop day files), so nothing older than retention stays.

The manifest is the commit point: files are written and fsynced first, then a new
manifest is written beside the old one, fsynced and renamed over it. A reader takes the
manifest as it is and reads the files it names; a file that is not in the manifest
(a crash mid-batch) is never read and is removed by the next writer. Files a commit
replaced are removed after it, so a reader that took the manifest before that commit can
meet a file gone: ``read_through_commits`` runs such a read again on the new manifest.
"""

# ruff: noqa: S608 - SQL text is made of the archive's own table/column names and of paths
# quoted by _quote; values a user gives go as parameters.
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import orjson

from callguard.compliance.archive.columns import DECISIONS, EVENTS, Table
from callguard.compliance.segments import fsync_path
from callguard.errors import ArchiveDamagedError, ArchiveFormatError

__all__ = [
    "COMPACTED_LEVEL",
    "ROW_GROUP_ROWS",
    "TABLES",
    "Archive",
    "ArchiveFormatError",
    "Lookup",
    "Manifest",
    "NumberFile",
    "Part",
    "StreamGap",
    "arrays_of",
    "casts",
    "connect",
    "empty_select",
    "fetch_rows",
    "fsync_path",
    "gap_notes",
    "read_through_commits",
    "union_view",
]

ROW_GROUP_ROWS = 16_384  # a lookup by number decompresses one such group per day
_PARQUET = "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2"
# A compacted day is written once and read for five years: zstd level 15 takes ~3 % off
# the archive (decisions 61.7 -> 59.7 B at 200 k) for ~4x the write time of the default
# level 3; 19 takes no more off and is 3x slower again (README, "The evidence archive").
COMPACTED_LEVEL = 15
TABLES = {t.name: t for t in (DECISIONS, EVENTS)}
# manifest format: 2 adds the number table and layout-2 decision files, 3 month files.
# A manifest without month files is still written as 2 (an older callguard reads it).
# 4: stream gaps of kind ``node`` or acknowledged (``StreamGap``: new fields an older
# callguard fails on); written only when one is there.
VERSION = 4
HASHED, NUMBERED = 1, 2  # Part.layout
# Every read of several day or month files reads their columns by name: a column added to
# a table later (columns.py) is not in the files written before it, and read_parquet over
# a list takes the first file's columns otherwise (the older first: the column dropped for
# every file, silently; the newer first: "schema mismatch"). A file without the column
# gives NULL there, and the field is read from the row's ``body``, where it was written
# then. The number table's files (number_hash, number_id) have had one schema since
# format 2; a read of one file needs nothing. tests/test_hcc23_archive_schemas.py.
_BY_NAME = "union_by_name = true"
_ID_HEX = "replace(CAST(decision_id AS VARCHAR), '-', '')"
_AT_MS = "printf('%012x', epoch_ms(\"at\"))"
# A decision id rebuilt from ``at``'s millisecond and the stored tail (layout 2).
_REBUILT_ID = (f"coalesce(decision_id, CAST({_AT_MS} || lower(hex(decision_tail)) AS UUID))"
               " AS decision_id")


def connect(threads: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB: UTC, no extension downloads (parquet, json, icu are built in)."""
    connection = duckdb.connect(config={"threads": threads,
                                        "autoinstall_known_extensions": False,
                                        "preserve_insertion_order": False})
    connection.execute("SET TimeZone = 'UTC'")
    return connection


@dataclass(slots=True)
class Part:
    """One Parquet file of the archive."""

    table: str
    day: str
    file: str  # relative to the archive root
    rows: int
    compacted: bool = False
    key_ids: list[str] = field(default_factory=list)  # hashing keys of its records
    layout: int = HASHED  # decisions: NUMBERED files hold number ids (module docstring)
    # A month file (version 3): ``day`` is its first day, ``until`` its last; rows and
    # hashing keys of each day it holds.
    until: str = ""
    days: dict[str, int] = field(default_factory=dict)
    day_keys: dict[str, list[str]] = field(default_factory=dict)

    @property
    def last(self) -> str:
        """The last day it holds."""
        return self.until or self.day

    def held(self) -> list[str]:
        """The days it holds."""
        return sorted(self.days) if self.until else [self.day]

    def keys_of(self, day: str) -> list[str]:
        """Hashing keys of the records of one of its days."""
        return self.day_keys.get(day, []) if self.until else self.key_ids


@dataclass(slots=True)
class NumberFile:
    """One file of the number table (number_hash, number_id), sorted by hash."""

    file: str
    rows: int


@dataclass(slots=True)
class StreamGap:
    """Stream entries the archiver could not archive, from one run.

    ``kind``: ``lost`` — trimmed (the stream's MAXLEN, a purge) before they were committed:
    never delivered, or delivered and the archiver killed before its commit; their records
    are in no archive, only in each node's log file. ``refused`` — read, and of a schema
    this callguard does not know (a newer node's) or with no readable ``logged_at``: their
    lines are kept in ``file`` (the quarantine, under the archive), not acknowledged
    silently. ``node`` — a node could not send records of its log (its ``stream-gap``
    entry, fields below). ``entries`` is exact unless ``at_least`` (Redis could not count
    them all).
    ``after``/``until``: the stream ids they lie between (exclusive for a trim; the first
    and last id otherwise); a stream id's milliseconds are when Redis added the entry,
    so ``first_ms``/``last_ms`` bound when the records were written. ``noted``: the run."""

    key: str
    kind: str
    entries: int
    after: str
    until: str
    noted: str
    at_least: bool = False
    file: str = ""
    # kind ``node``: a ``stream-gap`` entry a node's sender put on the stream in the place of
    # records of its log the stream will not have (stream_cursor.py, hoff32): which node,
    # log file, byte range and why (schema stream/stream-gap.json); ``found`` its logged_at
    # (the first seen: a re-sent entry carries a new one and is the same gap); ``after``
    # and ``until`` the stream id of the entry. One gap of a node is one range of its log:
    # ``entries`` is 1 (harc33).
    node: str = ""
    segment: str = ""
    offset: int = 0
    end: int | None = None
    reason: str = ""
    decision_id: str = ""
    found: str = ""
    # An officer who looked into the gap acknowledged it (``Archive.acknowledge_gap``): who,
    # when (UTC, ISO), and a note. Never deleted: the record of a loss is evidence; an
    # acknowledged gap is still said, and no longer makes an answer incomplete (harc33).
    acked_by: str = ""
    acked_at: str = ""
    ack_note: str = ""

    @property
    def ident(self) -> str:
        """A short id an officer names the gap by (``archive --ack-gap ID``): a hash of what
        makes it this gap — a node's by (node, segment, offset, reason), the same whatever
        the entry's logged_at or stream id (a re-sent entry); the archiver's by (stream,
        kind, run): one of each kind a run."""
        parts = ((self.node, self.segment, str(self.offset), self.reason)
                 if self.kind == "node" else (self.key, self.kind, self.noted))
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=5).hexdigest()

    @property
    def acknowledged(self) -> bool:
        """Whether an officer acknowledged it."""
        return bool(self.acked_by)

    def extended(self) -> bool:
        """Whether it holds what a manifest before version 4 cannot (a node's gap, an
        acknowledgement): an older callguard would fail on the fields, so it is told to
        upgrade instead (``Manifest.version``)."""
        return self.kind == "node" or self.acknowledged

    @property
    def first_ms(self) -> int:
        """When the first of them can have been added (ms since the epoch)."""
        return int(self.after.partition("-")[0] or 0)

    @property
    def last_ms(self) -> int:
        """When the last of them can have been added (ms since the epoch)."""
        return int(self.until.partition("-")[0] or 0)

    def reaches(self, first: datetime | None, last: datetime | None,
                margin: timedelta = timedelta(days=2)) -> bool:
        """Whether records of a range [first, last) can be among them: a call is decided
        before its record is added to the stream (``last_ms``, a node's clock ``margin``
        ahead at most), but may be decided any time before — a node's sink queues while
        Redis is down, and a node re-sends its log on reconnect (hoff30): ``first_ms``
        bounds nothing, and a range ending before the gap was written can hold them
        (hrev147: harc30 took two days before ``first_ms`` as the bound, and a report of
        the week before a re-send answered complete). ``last`` is kept for callers."""
        del last  # any range starting early enough can hold them, however early it ends
        end = _EPOCH + timedelta(milliseconds=self.last_ms) + margin
        return first is None or end >= first

    def said(self) -> str:
        """The gap in words, for `report` and `evidence`; an acknowledgement after it."""
        text = self._node_said() if self.kind == "node" else self._archiver_said()
        if self.acknowledged:
            text += (f" [gap {self.ident} acknowledged by {self.acked_by} on {self.acked_at}: "
                     f"{self.ack_note}]")
        return text

    def _node_said(self) -> str:
        """A node's gap: where in its log, why, and where the records are (or not)."""
        span = (f"bytes {self.offset}..{self.end}" if self.end is not None
                else f"from byte {self.offset} to its end")
        why = {"purged": "the segment was purged before its lines were sent: the records "
                         "are in no archive and no longer in the node's log",
               "gone": "the current file was removed (not rotated) before its lines were "
                       "sent: the records are in no archive, and in the node's log only if "
                       "the file was moved, not deleted",
               "oversize": "one line over the 1 MiB the sender reads (damage: a record is "
                           "a few KiB): its bytes are in the node's log file alone",
               # hoff33: a reason is open text (a newer node's unknown one said as given)
               "unreadable-line": "one line that is no record (not a JSON object: damage): "
                                  "its bytes are in the node's log file alone"}.get(
            self.reason, f"reason {self.reason!r}")
        named = f", decision {self.decision_id}" if self.decision_id else ""
        return (f"node {self.node} could not send records of its log to the record stream "
                f"{self.key}: {self.segment} {span} ({self.reason}{named}; {why}); found "
                f"{self.found}, stream entry {self.until}. Archive that node's log "
                "(`callguard archive --file` on it) or read it (`evidence --file`, `report "
                "--file`) where it is kept")

    def _archiver_said(self) -> str:
        since = f"between {_ms_text(self.first_ms)} and " if self.first_ms else "by "
        when = (f"written {since}{_ms_text(self.last_ms)} (stream ids {self.after} .. "
                f"{self.until})")
        count = f"{'at least ' if self.at_least else ''}{self.entries}"
        if self.kind == "refused":
            return (f"the archiver refused {count} entr(y/ies) of the record stream "
                    f"{self.key} {when} (run of {self.noted}): a schema this callguard "
                    "does not know (a newer node's), no readable logged_at, or a record "
                    "that does not parse (torn); they are not in the archive, their lines "
                    f"are kept in {self.file}. Upgrade callguard to read them (a torn one: "
                    "its node's log file holds the record)")
        return (f"the archiver found {count} entr(y/ies) of the record stream {self.key} "
                f"trimmed before they were archived, {when} (run of {self.noted}): their "
                "records are in no archive. Each node's log file still holds its records: "
                "read them (`evidence --file`, `report --file`) or archive them "
                "(`callguard archive --file`)")


def gap_notes(manifest: Manifest, first: datetime | None = None,
              last: datetime | None = None, *, acknowledged: bool = False) -> list[str]:
    """What the stream archiver could not archive, or a node could not send
    (``StreamGap``), whose records can be of the range [first, last): each gap not
    acknowledged makes an answer read from this archive incomplete. ``acknowledged``: the
    acknowledged ones instead — said beside the answer, no longer making it incomplete (an
    officer looked into them: harc33)."""
    return [gap.said() for gap in manifest.stream_gaps
            if gap.acknowledged == acknowledged and gap.reaches(first, last)]


def _ms_text(millis: int) -> str:
    return (_EPOCH + timedelta(milliseconds=millis)).isoformat(timespec="seconds")


@dataclass(slots=True)
class Manifest:
    """What the archive holds."""

    parts: list[Part] = field(default_factory=list)
    segments: dict[str, int] = field(default_factory=dict)  # archived segment -> records
    # archived segment -> records it holds that were not archived (a schema this callguard
    # does not know, no readable logged_at): the segment is never deleted by the archiver,
    # and readers read it as unarchived, so those records are counted and said, not lost
    refused: dict[str, int] = field(default_factory=dict)
    stream: dict[str, str] = field(default_factory=dict)  # stream key -> last archived id
    # What the stream archiver could not archive, kept so that `report` and `evidence`
    # on this host say it after the run's log line is gone (``StreamGap``; harc30)
    stream_gaps: list[StreamGap] = field(default_factory=list)
    numbers: list[NumberFile] = field(default_factory=list)  # oldest first
    next_number_id: int = 1

    def files(self, table: str, *, first: date | None = None, last: date | None = None,
              compacted: bool | None = None) -> list[Part]:
        """The parts of ``table`` holding a day in [first, last] (a month file may hold
        other days too: ``union_view`` filters it by its ``day`` column)."""
        return [p for p in self.parts if p.table == table
                and (first is None or p.last >= first.isoformat())
                and (last is None or p.day <= last.isoformat())
                and (compacted is None or p.compacted == compacted)]

    def days(self, *, first: date | None = None, last: date | None = None) -> list[str]:
        """Every day with records in [first, last], oldest first."""
        return sorted({d for p in self.parts for d in p.held() if _within(d, first, last)})

    def key_ids(self, *, first: date | None = None, last: date | None = None) -> set[str]:
        """The hashing keys (``key_id``) of the records in the days given."""
        return {k for table in TABLES for p in self.files(table, first=first, last=last)
                for d in p.held() if _within(d, first, last) for k in p.keys_of(d)}

    def rows(self, table: str) -> int:
        """Rows of ``table`` (before deduplication of parts not yet compacted)."""
        return sum(p.rows for p in self.parts if p.table == table)

    def version(self) -> int:
        """The format it is written in: the oldest that can describe it."""
        if any(g.extended() for g in self.stream_gaps):
            return VERSION
        return 3 if any(p.until for p in self.parts) else 2


def _fields(part: Part) -> dict[str, Any]:
    """A part as the manifest holds it: a day file without the month fields, so that a
    manifest of version 2 is read by a callguard before month files."""
    fields = asdict(part)
    if not part.until:
        for name in ("until", "days", "day_keys"):
            del fields[name]
    return fields


# StreamGap's fields added by harc33, each left out of the manifest at its default: a
# callguard of format 3 builds ``StreamGap(**g)`` from a manifest of version <= 3 and
# fails on any key it does not know (hrev169)
_GAP_FIELDS_4 = {"node": "", "segment": "", "offset": 0, "end": None, "reason": "",
                 "decision_id": "", "found": "", "acked_by": "", "acked_at": "",
                 "ack_note": ""}


# An acknowledgement is printed by `archive --gaps`, report, evidence and explain for
# years: one line of text of a bounded length (hrev169)
ACK_BY_MAX, ACK_NOTE_MAX = 200, 2000


def _ack_text(option: str, text: str, longest: int) -> None:
    """Refuse (``ValueError``) ``text`` over ``longest`` characters, or holding a control
    or format character (a newline forges a line of the report, an escape rewrites the
    officer's terminal, a bidi override makes the text read otherwise)."""
    if len(text) > longest:
        raise ValueError(f"{option} is over {longest} characters; nothing was changed")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise ValueError(f"{option} holds a control character (a newline, an escape, a "
                         "direction mark): one line of plain text; nothing was changed")


def _gap_fields(gap: StreamGap) -> dict[str, Any]:
    """A gap as the manifest holds it: without the format-4 fields it does not use, so a
    manifest of version 2 or 3 is read by a callguard before harc33."""
    return {name: value for name, value in asdict(gap).items()
            if name not in _GAP_FIELDS_4 or value != _GAP_FIELDS_4[name]}


def _within(day: str, first: date | None, last: date | None) -> bool:
    return (first is None or day >= first.isoformat()) and (
        last is None or day <= last.isoformat())


class Archive:
    """The archive at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def manifest_path(self) -> Path:
        """The commit point."""
        return self.root / "manifest.json"

    def exists(self) -> bool:
        """Whether anything was ever archived here."""
        return self.manifest_path.exists()

    def manifest_stamp(self) -> tuple[int, int] | None:
        """Which commit the manifest on disk is (each commit renames a new file over it)."""
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def manifest(self) -> Manifest:
        """The manifest as committed (empty when nothing was archived yet)."""
        try:
            raw = orjson.loads(self.manifest_path.read_bytes())
        except FileNotFoundError:
            return Manifest()
        if raw.get("version", 1) > VERSION:
            raise ArchiveFormatError(
                f"{self.manifest_path}: archive format {raw.get('version')} is newer than "
                f"this callguard reads ({VERSION}); upgrade callguard")
        return Manifest(parts=[Part(**p) for p in raw.get("parts", [])],
                        segments=dict(raw.get("segments", {})),
                        refused=dict(raw.get("refused", {})),
                        stream=dict(raw.get("stream", {})),
                        stream_gaps=[StreamGap(**g) for g in raw.get("stream_gaps", [])],
                        numbers=[NumberFile(**n) for n in raw.get("numbers", [])],
                        next_number_id=int(raw.get("next_number_id", 1)))

    @contextlib.contextmanager
    def writing(self) -> Iterator[Manifest]:
        """Hold the archive's lock; the manifest yielded is committed by ``commit``."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            manifest = self.manifest()
            self._remove_strays(manifest)
            yield manifest
        finally:
            os.close(fd)

    def commit(self, manifest: Manifest) -> None:
        """Make ``manifest`` the archive (its files must already be durable)."""
        temp = self.root / f".manifest.{uuid.uuid4().hex}.tmp"
        data = orjson.dumps({"version": manifest.version(),
                             "parts": [_fields(p) for p in manifest.parts],
                             "segments": manifest.segments, "stream": manifest.stream,
                             **({"refused": manifest.refused} if manifest.refused else {}),
                             **({"stream_gaps": [_gap_fields(g) for g in manifest.stream_gaps]}
                                if manifest.stream_gaps else {}),
                             "numbers": [asdict(n) for n in manifest.numbers],
                             "next_number_id": manifest.next_number_id},
                            option=orjson.OPT_INDENT_2)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.manifest_path)
        fsync_path(self.root)

    def acknowledge_gap(self, ident: str, by: str, note: str,
                        now: datetime | None = None) -> StreamGap:
        """Mark the gap ``ident`` (``StreamGap.ident``) acknowledged by ``by`` with ``note``,
        committed (the manifest's atomic write). The gap stays in the manifest: only the
        acknowledgement is added, once (a second would overwrite who answered for it).
        ``ValueError`` names what is wrong: no such gap, already acknowledged, no name or
        note."""
        if not by.strip() or not note.strip():
            raise ValueError("an acknowledgement names who made it (--by) and why (--note)")
        _ack_text("--by", by, ACK_BY_MAX)
        _ack_text("--note", note, ACK_NOTE_MAX)
        with self.writing() as manifest:
            found = [g for g in manifest.stream_gaps if g.ident == ident.strip().lower()]
            if not found:
                raise ValueError(f"no stream gap {ident!r} in the archive at {self.root} "
                                 "(`callguard archive --gaps` lists them with their ids)")
            gap = found[0]
            if gap.acknowledged:
                raise ValueError(f"stream gap {gap.ident} was already acknowledged by "
                                 f"{gap.acked_by} on {gap.acked_at}; nothing was changed")
            gap.acked_by, gap.ack_note = by.strip(), note.strip()
            gap.acked_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(
                timespec="seconds")
            self.commit(manifest)
            return gap

    def _remove_strays(self, manifest: Manifest) -> None:
        """Files left by a writer that died before its commit."""
        shutil.rmtree(self.root / ".staging", ignore_errors=True)
        named = {p.file for p in manifest.parts} | {n.file for n in manifest.numbers}
        strays = [path for table in TABLES for pattern in ("day=*/*.parquet",
                                                            "months/*.parquet")
                  for path in (self.root / table).glob(pattern)] + list(
            (self.root / "numbers").glob("*.parquet"))
        for path in strays:
            if str(path.relative_to(self.root)) not in named:
                path.unlink(missing_ok=True)
        for temp in self.root.glob(".manifest.*.tmp"):
            temp.unlink(missing_ok=True)

    def write_rows(self, connection: duckdb.DuckDBPyConnection, table: Table,
                   columns: Mapping[str, list[Any]], days: list[str]) -> list[Part]:
        """Write rows (one list per column, plus each row's day) as new parts, durably.

        Returns the parts; they are part of the archive once a manifest naming them is
        committed.
        """
        if not days:
            return []
        connection.register("batch", arrays_of(table, columns, days))
        try:
            return self.write_relation(connection, table,
                                       f"SELECT {casts(table)}, day FROM batch")
        finally:
            connection.unregister("batch")

    def write_relation(self, connection: duckdb.DuckDBPyConnection, table: Table,
                       relation: str) -> list[Part]:
        """Write the rows of ``relation`` (the table's columns and ``day``) as new parts."""
        staging = self.root / ".staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        connection.execute(f"CREATE OR REPLACE TEMP TABLE batch_rows AS {relation}")
        figures = connection.execute(
            "SELECT day, count(*), list(DISTINCT coalesce(key_id, 'none')) FILTER "
            "(WHERE key_id IS NOT NULL OR number_hash IS NOT NULL) FROM batch_rows "
            "GROUP BY day").fetchall()
        if not figures:
            return []
        connection.execute(
            f"COPY batch_rows TO {_quote(staging)} "
            f"({_PARQUET}, PARTITION_BY (day), ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
            "FILENAME_PATTERN 'p-{uuid}')")
        connection.execute("DROP TABLE batch_rows")
        counts = {day: (count, sorted(keys or [])) for day, count, keys in figures}
        parts = []
        for produced in sorted(staging.glob("day=*/*.parquet")):
            day = produced.parent.name.removeprefix("day=")
            target = self.root / table.name / f"day={day}" / produced.name
            target.parent.mkdir(parents=True, exist_ok=True)
            fsync_path(produced)
            os.replace(produced, target)
            fsync_path(target.parent)
            parts.append(Part(table.name, day, str(target.relative_to(self.root)),
                              counts[day][0], key_ids=counts[day][1]))
        shutil.rmtree(staging, ignore_errors=True)
        return parts

    def compact_day(self, connection: duckdb.DuckDBPyConnection, table: Table,
                    parts: list[Part]) -> Part:
        """One file for the day: duplicates dropped, rows in lookup order.

        Decisions are written in layout 2: ``add_numbers`` must have run for these parts
        (their hashes are in the temp table ``run_numbers``); a hash without an id stops
        the compaction (an error, never a row without its number).
        """
        day = parts[0].day
        produced, rows = self._write_compacted(
            connection, self._compacted_rows(table, parts, with_day=False), "c")
        target = self._place(produced, self.root / table.name / f"day={day}")
        return Part(table.name, day, target, rows, compacted=True,
                    key_ids=sorted({k for p in parts for k in p.key_ids}),
                    layout=NUMBERED if table is DECISIONS else HASHED)

    def compact_month(self, connection: duckdb.DuckDBPyConnection, table: Table,
                      parts: list[Part]) -> Part:
        """One file for parts of one month (its day files, its month file, records
        archived late for its days): as ``compact_day``, with ``day`` a column."""
        month = min(parts, key=lambda p: p.day).day[:7]
        produced, _ = self._write_compacted(
            connection, self._compacted_rows(table, parts, with_day=True), f"m-{month}")
        days = {str(d): int(n) for d, n in connection.execute(
            f"SELECT day, count(*) FROM read_parquet({_quote(produced)}, hive_partitioning "
            "= false) GROUP BY day").fetchall()}
        if not days or any(d[:7] != month for d in days):
            raise ArchiveFormatError(f"{table.name} of {month}: rows of other months")
        keys = {d: sorted({k for p in parts if d in p.held() for k in p.keys_of(d)})
                for d in days}
        target = self._place(produced, self.root / table.name / "months")
        return Part(table.name, min(days), target, sum(days.values()), compacted=True,
                    layout=NUMBERED if table is DECISIONS else HASHED,
                    key_ids=sorted({k for ks in keys.values() for k in ks}),
                    until=max(days), days=dict(sorted(days.items())), day_keys=keys)

    def split_month(self, connection: duckdb.DuckDBPyConnection, table: Table, part: Part,
                    *, keep_from: str) -> list[Part]:
        """The days of a month file from ``keep_from`` on, as day files (purge)."""
        out = []
        source = f"read_parquet({_quote(self.root / part.file)}, hive_partitioning = false)"
        for day in part.held():
            if day < keep_from:
                continue
            produced, rows = self._write_compacted(
                connection, f"SELECT * EXCLUDE (day) FROM {source} WHERE day = '{day}' "
                f"ORDER BY {table.sort}", "c")
            if rows != part.days[day]:
                raise ArchiveFormatError(f"{part.file}: {rows} rows on {day}, the manifest "
                                         f"says {part.days[day]}")
            target = self._place(produced, self.root / table.name / f"day={day}")
            out.append(Part(table.name, day, target, rows, compacted=True,
                            key_ids=part.keys_of(day), layout=part.layout))
        return out

    def _write_compacted(self, connection: duckdb.DuckDBPyConnection, select: str,
                         prefix: str) -> tuple[Path, int]:
        """``select`` as one staged file (compacted: zstd level 15): its path and rows."""
        staging = self.root / ".staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        produced = staging / f"{prefix}-{uuid.uuid4().hex}.parquet"
        connection.execute(
            f"COPY ({select}) "
            f"TO {_quote(produced)} ({_PARQUET}, COMPRESSION_LEVEL {COMPACTED_LEVEL}, "
            f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        rows = connection.execute(
            f"SELECT count(*) FROM read_parquet({_quote(produced)})").fetchone()
        return produced, int(rows[0]) if rows else 0

    def _place(self, produced: Path, directory: Path) -> str:
        """Move a staged file into the archive, durably: its path relative to the root."""
        target = directory / produced.name
        directory.mkdir(parents=True, exist_ok=True)
        fsync_path(produced)
        os.replace(produced, target)
        fsync_path(directory)
        shutil.rmtree(produced.parent, ignore_errors=True)
        return str(target.relative_to(self.root))

    def _compacted_rows(self, table: Table, parts: list[Part], *, with_day: bool) -> str:
        """The parts' rows deduplicated, in lookup order; with their ``day`` or not."""
        union = " UNION ALL BY NAME ".join(f"SELECT * FROM {scan}" for scan in
                                           self._scans(parts, with_day))
        held = [d for p in parts for d in p.held()]
        if all(p.compacted for p in parts) and len(held) == len(set(held)) and (
                table is not DECISIONS or all(p.layout == NUMBERED for p in parts)):
            # Compacted days, each in one part: already deduplicated and in layout 2;
            # only sorted together (no hash of every row: a month is millions of rows).
            return f"SELECT * FROM ({union}) ORDER BY {table.sort}"
        if table is not DECISIONS:
            return f"SELECT DISTINCT * FROM ({union}) ORDER BY {table.sort}"
        return self._numbered_rows(parts, with_day)

    def _scans(self, parts: list[Part], with_day: bool) -> list[str]:
        """read_parquet of the parts' files: day files (``day`` from the directory when
        ``with_day``), month files (``day`` a column) apart."""
        days = [self.root / p.file for p in parts if not p.until]
        months = [self.root / p.file for p in parts if p.until]
        hive = ("hive_partitioning = true, hive_types = {'day': VARCHAR}" if with_day
                else "hive_partitioning = false")
        return ([f"read_parquet({_sql_list(days)}, {hive}, {_BY_NAME})"] if days else []) + (
            [f"read_parquet({_sql_list(months)}, hive_partitioning = false, {_BY_NAME})"]
            if months else [])

    def _numbered_rows(self, parts: list[Part], with_day: bool) -> str:
        """The parts' decisions in layout 2, deduplicated, in file order."""
        sources = []
        for scan in self._scans([p for p in parts if p.layout == HASHED], with_day):
            sources.append(
                "SELECT d.* EXCLUDE (number_hash), CASE WHEN d.number_hash IS NOT NULL AND "
                "n.number_id IS NULL THEN error('number hash without an id in the number "
                "table') ELSE n.number_id END AS number_id "
                f"FROM {scan} d LEFT JOIN run_numbers n USING (number_hash)")
        for scan in self._scans([p for p in parts if p.layout == NUMBERED], with_day):
            sources.append(f"SELECT * EXCLUDE (decision_id, decision_tail), {_REBUILT_ID} "
                           f"FROM {scan}")
        unique = ("DISTINCT ON (coalesce(CAST(decision_id AS VARCHAR), body || "
                  "CAST(\"at\" AS VARCHAR)))")
        rows = f"SELECT {unique} * FROM ({' UNION ALL BY NAME '.join(sources)})"
        tail = f"CASE WHEN left({_ID_HEX}, 12) = {_AT_MS} THEN unhex(substr({_ID_HEX}, 13)) END"
        return (f"SELECT * EXCLUDE (decision_id, decision_tail), CASE WHEN decision_tail IS "
                f"NULL THEN decision_id END AS decision_id, decision_tail FROM "
                f"(SELECT *, {tail} AS decision_tail FROM ({rows})) ORDER BY {DECISIONS.sort}")

    def add_numbers(self, connection: duckdb.DuckDBPyConnection, manifest: Manifest,
                    parts: list[Part]) -> int:
        """Give every number hash of these layout-1 decision parts an id; commit.

        Leaves the temp table ``run_numbers`` (hash -> id for these parts) for
        ``compact_day``. New numbers get the next ids in order of first day, so a day's
        new numbers have neighbouring ids (small deltas in its sorted file). Returns how
        many numbers were new.
        """
        hashed = [self.root / p.file for p in parts if p.layout == HASHED]
        connection.execute("CREATE OR REPLACE TEMP TABLE run_numbers "
                           "(number_hash BLOB, number_id BIGINT)")
        if not hashed:
            return 0
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE run_hashes AS SELECT number_hash, min(day) AS first "
            f"FROM read_parquet({_sql_list(hashed)}, hive_partitioning = true, "
            f"hive_types = {{'day': VARCHAR}}, {_BY_NAME}) WHERE number_hash IS NOT NULL "
            "GROUP BY number_hash")
        if manifest.numbers:
            connection.execute(
                "INSERT INTO run_numbers SELECT t.number_hash, t.number_id FROM "
                f"read_parquet({_sql_list(self.root / n.file for n in manifest.numbers)}) t "
                "SEMI JOIN run_hashes r USING (number_hash)")
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE new_numbers AS SELECT number_hash, "
            f"{manifest.next_number_id} - 1 + row_number() OVER (ORDER BY first, number_hash) "
            "AS number_id FROM run_hashes r ANTI JOIN run_numbers n USING (number_hash)")
        connection.execute("DROP TABLE run_hashes")
        row = connection.execute("SELECT count(*), max(number_id) FROM new_numbers").fetchone()
        added = int(row[0]) if row else 0
        if added:
            connection.execute("INSERT INTO run_numbers SELECT * FROM new_numbers")
            written = self._write_numbers(connection, "SELECT * FROM new_numbers")
            manifest.numbers.append(written)
            manifest.next_number_id = int(row[1]) + 1  # type: ignore[index]
            merged = self._merge_numbers(connection, manifest)
            self.commit(manifest)
            self.delete_numbers(merged)
        connection.execute("DROP TABLE new_numbers")
        return added

    def _write_numbers(self, connection: duckdb.DuckDBPyConnection,
                       relation: str) -> NumberFile:
        """A number table file of ``relation`` (number_hash, number_id), durably."""
        staging = self.root / ".staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        produced = staging / f"n-{uuid.uuid4().hex}.parquet"
        # Hashes do not compress: zstd's default level, rows sorted by hash (lookups
        # read one row group).
        connection.execute(
            f"COPY (SELECT number_hash, number_id FROM ({relation}) ORDER BY number_hash) "
            f"TO {_quote(produced)} ({_PARQUET}, ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        row = connection.execute(
            f"SELECT count(*) FROM read_parquet({_quote(produced)})").fetchone()
        target = self.root / "numbers" / produced.name
        target.parent.mkdir(parents=True, exist_ok=True)
        fsync_path(produced)
        os.replace(produced, target)
        fsync_path(target.parent)
        shutil.rmtree(staging, ignore_errors=True)
        return NumberFile(str(target.relative_to(self.root)), int(row[0]) if row else 0)

    def _merge_numbers(self, connection: duckdb.DuckDBPyConnection,
                       manifest: Manifest) -> list[NumberFile]:
        """Merge the newest files while the newest is at least half the one before it:
        a few files (log2 of the table) for a lookup, each hash rewritten log2 times.
        Returns the files merged away (to delete once committed)."""
        gone: list[NumberFile] = []
        while len(manifest.numbers) >= 2 and (
                2 * manifest.numbers[-1].rows >= manifest.numbers[-2].rows):
            pair = manifest.numbers[-2:]
            files = _sql_list(self.root / n.file for n in pair)
            merged = self._write_numbers(connection, f"SELECT * FROM read_parquet({files})")
            manifest.numbers[-2:] = [merged]
            gone += pair
        return gone

    def number_ids(self, connection: duckdb.DuckDBPyConnection, manifest: Manifest,
                   number_hash: str) -> list[int]:
        """The ids of a number hash in the number table (none when never compacted)."""
        if not manifest.numbers:
            return []
        files = _sql_list(self.root / n.file for n in manifest.numbers)
        return [int(i) for (i,) in connection.execute(
            f"SELECT number_id FROM read_parquet({files}) WHERE number_hash = ?",
            [bytes.fromhex(number_hash)]).fetchall()]

    def decision_numbers(self, connection: duckdb.DuckDBPyConnection, manifest: Manifest,
                         lookup: Lookup, *, first: date | None = None,
                         last: date | None = None) -> tuple[tuple[int, str], ...]:
        """(number_id, hash) of the layout-2 rows of one decision: two pruned reads (the
        rows by ``at``, the table by id) instead of a join that hashes the whole table."""
        files = [self.root / p.file for p in manifest.files(DECISIONS.name, first=first,
                                                            last=last)
                 if p.layout == NUMBERED]
        if not files or not manifest.numbers:
            return ()
        # hive partitioning off: day and month files together, and no day is needed
        scans = " UNION ".join(f"SELECT number_id FROM read_parquet({_sql_list(files)}, "
                               f"hive_partitioning = false, {_BY_NAME}) WHERE {where}"
                               for where in lookup.numbered())
        ids = [int(i) for (i,) in connection.execute(
            f"SELECT DISTINCT number_id FROM ({scans}) WHERE number_id IS NOT NULL"
        ).fetchall()]
        if not ids:
            return ()
        table = _sql_list(self.root / n.file for n in manifest.numbers)
        return tuple((int(i), bytes(h).hex()) for i, h in connection.execute(
            f"SELECT number_id, number_hash FROM read_parquet({table}) "
            f"WHERE number_id IN ({', '.join(map(str, ids))})").fetchall())

    def delete_numbers(self, files: Iterable[NumberFile]) -> None:
        """Remove number table files no longer named by the committed manifest."""
        for number_file in files:
            (self.root / number_file.file).unlink(missing_ok=True)

    def drop_days_before(self, cutoff: date, *, dry_run: bool = False) -> tuple[int, int]:
        """Delete every whole day before ``cutoff``: (days, rows) destroyed (or would be).

        A month file holding days on both sides is rewritten as the day files of the days
        it keeps. The number table is rewritten with the ids the remaining days still use:
        a hash no remaining record refers to goes with the days.
        """
        limit = cutoff.isoformat()
        with self.writing() as manifest:
            old = [p for p in manifest.parts if p.last < limit]
            cut = [p for p in manifest.parts if p.day < limit <= p.last]
            result = (len(manifest.days(last=cutoff - timedelta(days=1))),
                      sum(p.rows for p in old) + sum(n for p in cut
                                                     for d, n in p.days.items() if d < limit))
            if dry_run or not (old or cut):
                return result
            connection = connect()
            kept = [k for p in cut
                    for k in self.split_month(connection, TABLES[p.table], p, keep_from=limit)]
            manifest.parts = [p for p in manifest.parts if p not in old and p not in cut] + kept
            numbers = list(manifest.numbers)
            if numbers:
                manifest.numbers = self._kept_numbers(manifest)
            self.commit(manifest)
            self.delete_files([*old, *cut])
            self.delete_numbers(n for n in numbers if n not in manifest.numbers)
            return result

    def _kept_numbers(self, manifest: Manifest) -> list[NumberFile]:
        """One number table file of the ids the manifest's layout-2 files use."""
        used = [self.root / p.file for p in manifest.parts
                if p.table == DECISIONS.name and p.layout == NUMBERED]
        if not used:
            return []
        connection = connect()
        table = _sql_list(self.root / n.file for n in manifest.numbers)
        return [self._write_numbers(
            connection, f"SELECT * FROM read_parquet({table}) SEMI JOIN (SELECT DISTINCT "
            f"number_id FROM read_parquet({_sql_list(used)}, hive_partitioning = false, "
            f"{_BY_NAME})) "
            "USING (number_id)")]

    def delete_files(self, parts: Iterable[Part]) -> None:
        """Remove files no longer named by the committed manifest."""
        for part in parts:
            (self.root / part.file).unlink(missing_ok=True)
        for table in TABLES:
            for directory in (self.root / table).glob("day=*"):
                with contextlib.suppress(OSError):
                    directory.rmdir()  # only when empty


def fetch_rows(connection: duckdb.DuckDBPyConnection, relation: str, table: Table,
               where: str = "", parameters: list[Any] | None = None,
               ) -> list[dict[str, Any]]:
    """Rows of ``relation`` as dicts; instants as UTC datetimes (no pytz needed)."""
    names = list(table.sql_columns)
    select = ", ".join(f'epoch_us("{n}")' if sql == "TIMESTAMPTZ" else f'"{n}"'
                       for n, sql in table.sql_columns.items())
    result = connection.execute(f"SELECT {select} FROM ({relation}) {where}",
                                parameters or [])
    out = []
    for values in result.fetchall():
        row = dict(zip(names, values, strict=True))
        for name, sql in table.sql_columns.items():
            if sql == "TIMESTAMPTZ" and row[name] is not None:
                row[name] = _EPOCH + timedelta(microseconds=row[name])
        out.append(row)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def arrays_of(table: Table, columns: Mapping[str, list[Any]], days: list[str],
            ) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, sql in table.sql_columns.items():
        values = columns[name]
        if sql == "TIMESTAMPTZ":
            arrays[name] = np.array([int(v.timestamp() * 1_000_000) if v is not None
                                     else None for v in values], dtype=object)
        else:
            arrays[name] = np.array(values, dtype=object)
    arrays["day"] = np.array(days, dtype=object)
    return arrays


def casts(table: Table) -> str:
    parts = []
    for name, sql in table.sql_columns.items():
        quoted = f'"{name}"'
        if sql == "TIMESTAMPTZ":
            parts.append(f"CAST(make_timestamp(CAST({quoted} AS BIGINT)) AS TIMESTAMPTZ) "
                         f"AS {quoted}")
        else:
            parts.append(f"CAST({quoted} AS {sql}) AS {quoted}")
    return ", ".join(parts)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(_quote(p) for p in paths) + "]"


def empty_select(table: Table) -> str:
    """A typed empty relation with the table's columns (when no file matches)."""
    columns = ", ".join(f'CAST(NULL AS {sql}) AS "{name}"'
                        for name, sql in table.sql_columns.items())
    return f"SELECT {columns}, CAST(NULL AS VARCHAR) AS day WHERE false"


@dataclass(frozen=True, slots=True)
class Lookup:
    """Rows wanted by ``union_view``: one number (its hash and its ids in the number
    table) or one decision id; checked, so they can be written into SQL as literals."""

    number_hash: str | None = None
    number_ids: tuple[int, ...] = ()
    decision_id: str | None = None
    hashes: tuple[tuple[int, str], ...] = ()  # (number_id, hash) of the decision's rows

    def __post_init__(self) -> None:
        if self.number_hash is not None and not _HEX64.match(self.number_hash):
            raise ValueError("a number hash is 64 hex digits")
        if self.decision_id is not None and not _UUID.match(self.decision_id):
            raise ValueError("a decision id is a UUID (lower case, with dashes)")

    def hashed(self) -> str:
        """The filter on rows that hold their number hash and whole decision id."""
        if self.number_hash is not None:
            return f"number_hash = unhex('{self.number_hash}')"
        return f"decision_id = '{self.decision_id}'"

    def numbered(self) -> list[str]:
        """The filters on a layout-2 file, read as one scan each (UNION ALL): each is
        a conjunction, so Parquet statistics prune row groups (an OR would not)."""
        if self.number_hash is not None:
            listed = ", ".join(str(int(i)) for i in self.number_ids)
            return [f"number_id IN ({listed})" if listed else "false"]
        whole = f"decision_id = '{self.decision_id}'"
        text = str(self.decision_id).replace("-", "")
        try:
            at = _EPOCH + timedelta(milliseconds=int(text[:12], 16))
        except OverflowError:  # no instant has this millisecond: stored whole if at all
            return [whole]
        # A row holds either the whole id or the tail (never both): no row twice.
        return [whole, f"\"at\" >= TIMESTAMPTZ '{at.isoformat()}' AND \"at\" < "
                f"TIMESTAMPTZ '{(at + timedelta(milliseconds=1)).isoformat()}' AND "
                f"decision_tail = unhex('{text[12:]}')"]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def union_view(archive: Archive, manifest: Manifest, table: Table, *,
               first: date | None = None, last: date | None = None,
               live: str | None = None, numbers: bool = False,
               lookup: Lookup | None = None, live_days: Collection[str] = ()) -> str:
    """SQL for the table over the archive (days in range) and the live rows.

    A day made of one compacted file is read as it is; the days that also have parts
    not yet compacted, and the live rows, are read together with duplicates dropped
    (by decision id, or by content), so a record archived twice is counted once.
    ``live_days``: the days the live rows were logged on; their compacted files are read
    with the live rows too (an archiver on a deciding node archives the stream, so its own
    file is never named by the manifest and holds records its compacted days hold).

    Decisions of layout-2 files come back with their decision id rebuilt; their
    ``number_hash`` is read from the number table only with ``numbers`` (a join: the
    report never needs it) or set from ``lookup``; otherwise it is NULL. ``lookup``
    (decisions only) keeps the rows of one number or one decision, filtered in each
    file so that Parquet statistics prune row groups.
    """
    parts = manifest.files(table.name, first=first, last=last)
    dirty = {p.day for p in parts if not p.compacted}  # parts not compacted: day parts
    if live is not None:
        dirty.update(live_days)
    loose = [p for p in parts if dirty.intersection(p.held())]
    clean = [p for p in parts if p not in loose]
    where = f" WHERE {lookup.hashed()}" if lookup is not None else ""
    selects = _reads(archive, manifest, clean, numbers, lookup, first, last)
    sources = _reads(archive, manifest, loose, numbers, lookup, first, last)
    if live is not None:
        sources.append(f"SELECT * FROM {live}{where}")
    if sources:
        unique = ("DISTINCT ON (coalesce(CAST(decision_id AS VARCHAR), body || "
                  "CAST(\"at\" AS VARCHAR)))" if table is DECISIONS else "DISTINCT")
        selects.append(f"SELECT {unique} * FROM ({' UNION ALL BY NAME '.join(sources)})")
    if not selects:
        return empty_select(table)
    return " UNION ALL BY NAME ".join(f"({s})" for s in selects)


def _reads(archive: Archive, manifest: Manifest, parts: list[Part], numbers: bool,
           lookup: Lookup | None, first: date | None, last: date | None) -> list[str]:
    """Selects of the parts in the table's canonical columns (layouts apart); month
    files kept to the days in [first, last]."""
    out = []
    for layout in (HASHED, NUMBERED):
        for scan, days in _read(archive, [p for p in parts if p.layout == layout],
                                first, last):
            if layout == HASHED:
                out.append(_where(scan, [*days, *([lookup.hashed()] if lookup else [])]))
            else:
                out.append(_numbered(archive, manifest, scan, days, numbers, lookup))
    return out


def _numbered(archive: Archive, manifest: Manifest, scan: str, days: list[str],
              numbers: bool, lookup: Lookup | None) -> str:
    """A scan of layout-2 decision files with the decision id and number hash rebuilt."""
    scans = " UNION ALL ".join(_where(scan, [*days, where]) for where in lookup.numbered()
                               ) if lookup is not None else _where(scan, days)
    rows = (f"SELECT * EXCLUDE (decision_id, decision_tail), {_REBUILT_ID} "
            f"FROM ({scans})")
    if lookup is not None and lookup.number_hash is not None:
        return (f"SELECT * EXCLUDE (number_id), unhex('{lookup.number_hash}') "
                f"AS number_hash FROM ({rows})")
    if lookup is not None:  # one decision: its number's hash found beforehand
        cases = " ".join(f"WHEN {int(i)} THEN unhex('{h}')" for i, h in lookup.hashes
                         if _HEX64.match(h))
        hashed_by_id = f"CASE number_id {cases} END" if cases else "CAST(NULL AS BLOB)"
        return (f"SELECT * EXCLUDE (number_id), {hashed_by_id} AS number_hash "
                f"FROM ({rows})")
    if numbers and manifest.numbers:
        table = _sql_list(archive.root / n.file for n in manifest.numbers)
        return (f"SELECT r.* EXCLUDE (number_id), t.number_hash FROM ({rows}) r "
                f"LEFT JOIN read_parquet({table}) t USING (number_id)")
    return (f"SELECT * EXCLUDE (number_id), CAST(NULL AS BLOB) AS number_hash "
            f"FROM ({rows})")


def _where(scan: str, conditions: list[str]) -> str:
    return f"{scan} WHERE {' AND '.join(conditions)}" if conditions else scan


def _read(archive: Archive, parts: list[Part], first: date | None, last: date | None,
          ) -> list[tuple[str, list[str]]]:
    """Scans of the parts' files, each with the conditions that keep it in range: day
    files (``day`` from the directory), month files (``day`` a column) apart."""
    days = [archive.root / p.file for p in parts if not p.until]
    months = [p for p in parts if p.until]
    out: list[tuple[str, list[str]]] = []
    if days:
        out.append((f"SELECT * FROM read_parquet({_sql_list(days)}, hive_partitioning = "
                    f"true, hive_types = {{'day': VARCHAR}}, {_BY_NAME})", []))
    if months:
        # Only a month file the range cuts is filtered (a string test per row).
        cut = any((first is not None and p.day < first.isoformat())
                  or (last is not None and p.last > last.isoformat()) for p in months)
        files = _sql_list(archive.root / p.file for p in months)
        out.append((f"SELECT * FROM read_parquet({files}, hive_partitioning = false, "
                    f"{_BY_NAME})",
                    [*([f"day >= '{first.isoformat()}'"] if cut and first else []),
                     *([f"day <= '{last.isoformat()}'"] if cut and last else [])]))
    return out


T = TypeVar("T")


def read_through_commits(archive: Archive, read: Callable[[], T], attempts: int = 3) -> T:
    """Run ``read`` (which takes the manifest itself); if it fails on a file gone and a
    commit came meanwhile (compaction, a month's rollup, a purge, the log segment it read
    archived and dropped), run it again on the new manifest. A file gone with no commit
    between is a damaged archive, and its error is raised."""
    for attempt in range(1, attempts + 1):
        before = archive.manifest_stamp()
        try:
            return read()
        except (duckdb.IOException, FileNotFoundError) as exc:
            if attempt == attempts or archive.manifest_stamp() == before:
                _raise_if_damaged(archive, exc)
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _raise_if_damaged(archive: Archive, cause: Exception) -> None:
    """Name the files of the manifest that are gone (an "internal error" quoting DuckDB,
    its path's hex taken for a number, did not say which days the archive has lost)."""
    manifest = archive.manifest()
    gone = [p for p in manifest.parts if not (archive.root / p.file).exists()]
    gone_numbers = [n.file for n in manifest.numbers if not (archive.root / n.file).exists()]
    if not gone and not gone_numbers:
        return
    days = sorted({d for p in gone for d in p.held()})
    shown = ", ".join(days[:10]) + (f" and {len(days) - 10} more" if len(days) > 10 else "")
    files = [*(p.file for p in gone), *gone_numbers]
    raise ArchiveDamagedError(
        f"the archive at {archive.root} is missing {len(files)} file(s) its manifest names "
        f"({', '.join(files[:5])}{' …' if len(files) > 5 else ''}; days: {shown or 'none'}"
        f"{', the number table' if gone_numbers else ''}). Nothing was answered: without "
        "them an answer could say 'none' for calls that were made. Restore them from a "
        "backup of the archive") from cause
