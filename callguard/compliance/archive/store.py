"""The archive on disk: day-partitioned Parquet files and the manifest that names them.

Layout under ``<data_dir>/archive`` (``--archive DIR``)::

    manifest.json                      the files that make up the archive, and what was
                                       archived (segments by name, the stream's last id)
    decisions/day=2026-11-25/*.parquet one row per decision (columns.py), zstd
    events/day=2026-11-25/*.parquet    every other record kind
    .staging/                          files being written (never read)
    .lock                              one writer (archive, compaction, purge) at a time

A day is the UTC date of ``logged_at``. New records land in small "parts"; once a day is
over, compaction rewrites its parts as one file sorted by number hash (decisions) so a
lookup by number reads the footer and one row group per day. Deduplication is by
decision id (decisions) and by content (other records): at compaction, and when reading
parts not yet compacted.

The manifest is the commit point: files are written and fsynced first, then a new
manifest is written beside the old one, fsynced and renamed over it. A reader takes the
manifest as it is and reads the files it names; a file that is not in the manifest
(a crash mid-batch) is never read and is removed by the next writer.
"""

# ruff: noqa: S608 - SQL text is made of the archive's own table/column names and of paths
# quoted by _quote; values a user gives go as parameters.
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from callguard.compliance.archive.columns import DECISIONS, EVENTS, Table

__all__ = [
    "COMPACTED_LEVEL",
    "ROW_GROUP_ROWS",
    "TABLES",
    "Archive",
    "Manifest",
    "Part",
    "arrays_of",
    "casts",
    "connect",
    "empty_select",
    "fetch_rows",
    "fsync_path",
    "union_view",
]

ROW_GROUP_ROWS = 16_384  # a lookup by number decompresses one such group per day
_PARQUET = "FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2"
# A compacted day is written once and read for five years: zstd level 15 takes ~3 % off
# the archive (decisions 61.7 -> 59.7 B at 200 k) for ~4x the write time of the default
# level 3; 19 takes no more off and is 3x slower again (README, "The evidence archive").
COMPACTED_LEVEL = 15
TABLES = {t.name: t for t in (DECISIONS, EVENTS)}


def connect(threads: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB: UTC, no extension downloads (parquet, json, icu are built in)."""
    connection = duckdb.connect(config={"threads": threads,
                                        "autoinstall_known_extensions": False,
                                        "preserve_insertion_order": False})
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(slots=True)
class Part:
    """One Parquet file of the archive."""

    table: str
    day: str
    file: str  # relative to the archive root
    rows: int
    compacted: bool = False
    key_ids: list[str] = field(default_factory=list)  # hashing keys of its records


@dataclass(slots=True)
class Manifest:
    """What the archive holds."""

    parts: list[Part] = field(default_factory=list)
    segments: dict[str, int] = field(default_factory=dict)  # archived segment -> records
    stream: dict[str, str] = field(default_factory=dict)  # stream key -> last archived id

    def files(self, table: str, *, first: date | None = None, last: date | None = None,
              compacted: bool | None = None) -> list[Part]:
        """The parts of ``table`` with a day in [first, last]."""
        return [p for p in self.parts if p.table == table
                and (first is None or p.day >= first.isoformat())
                and (last is None or p.day <= last.isoformat())
                and (compacted is None or p.compacted == compacted)]

    def days(self) -> list[str]:
        """Every day with a part, oldest first."""
        return sorted({p.day for p in self.parts})

    def key_ids(self, *, first: date | None = None, last: date | None = None) -> set[str]:
        """The hashing keys (``key_id``) of the records in the days given."""
        return {k for table in TABLES for p in self.files(table, first=first, last=last)
                for k in p.key_ids}

    def rows(self, table: str) -> int:
        """Rows of ``table`` (before deduplication of parts not yet compacted)."""
        return sum(p.rows for p in self.parts if p.table == table)


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

    def manifest(self) -> Manifest:
        """The manifest as committed (empty when nothing was archived yet)."""
        try:
            raw = orjson.loads(self.manifest_path.read_bytes())
        except FileNotFoundError:
            return Manifest()
        return Manifest(parts=[Part(**p) for p in raw.get("parts", [])],
                        segments=dict(raw.get("segments", {})),
                        stream=dict(raw.get("stream", {})))

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
        data = orjson.dumps({"version": 1, "parts": [asdict(p) for p in manifest.parts],
                             "segments": manifest.segments, "stream": manifest.stream},
                            option=orjson.OPT_INDENT_2)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.manifest_path)
        fsync_path(self.root)

    def _remove_strays(self, manifest: Manifest) -> None:
        """Files left by a writer that died before its commit."""
        shutil.rmtree(self.root / ".staging", ignore_errors=True)
        named = {p.file for p in manifest.parts}
        for table in TABLES:
            for path in (self.root / table).glob("day=*/*.parquet"):
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
        """One file for the day: duplicates dropped, rows in lookup order."""
        day = parts[0].day
        staging = self.root / ".staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        produced = staging / f"c-{uuid.uuid4().hex}.parquet"
        files = _sql_list(self.root / p.file for p in parts)
        unique = ("DISTINCT ON (coalesce(CAST(decision_id AS VARCHAR), body || "
                  "CAST(\"at\" AS VARCHAR)))" if table is DECISIONS else "DISTINCT")
        connection.execute(
            f"COPY (SELECT {unique} * FROM read_parquet({files}, hive_partitioning = false) "
            f"ORDER BY {table.sort}) "
            f"TO {_quote(produced)} ({_PARQUET}, COMPRESSION_LEVEL {COMPACTED_LEVEL}, "
            f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        rows = connection.execute(
            f"SELECT count(*) FROM read_parquet({_quote(produced)})").fetchone()
        target = self.root / table.name / f"day={day}" / produced.name
        target.parent.mkdir(parents=True, exist_ok=True)
        fsync_path(produced)
        os.replace(produced, target)
        fsync_path(target.parent)
        shutil.rmtree(staging, ignore_errors=True)
        return Part(table.name, day, str(target.relative_to(self.root)),
                    int(rows[0]) if rows else 0, compacted=True,
                    key_ids=sorted({k for p in parts for k in p.key_ids}))

    def drop_days_before(self, cutoff: date, *, dry_run: bool = False) -> tuple[int, int]:
        """Delete every whole day before ``cutoff``: (days, rows) destroyed (or would be)."""
        with self.writing() as manifest:
            old = [p for p in manifest.parts if p.day < cutoff.isoformat()]
            result = len({p.day for p in old}), sum(p.rows for p in old)
            if dry_run or not old:
                return result
            manifest.parts = [p for p in manifest.parts if p not in old]
            self.commit(manifest)
            self.delete_files(old)
            return result

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


def union_view(archive: Archive, manifest: Manifest, table: Table, *,
               first: date | None = None, last: date | None = None,
               live: str | None = None) -> str:
    """SQL for the table over the archive (days in range) and the live rows.

    A day made of one compacted file is read as it is; the days that also have parts
    not yet compacted, and the live rows, are read together with duplicates dropped
    (by decision id, or by content), so a record archived twice is counted once.
    """
    parts = manifest.files(table.name, first=first, last=last)
    dirty = {p.day for p in parts if not p.compacted}
    clean = [archive.root / p.file for p in parts if p.day not in dirty]
    loose = [archive.root / p.file for p in parts if p.day in dirty]
    selects = [_read(clean)] if clean else []
    sources = [_read(loose)] if loose else []
    if live is not None:
        sources.append(f"SELECT * FROM {live}")
    if sources:
        unique = ("DISTINCT ON (coalesce(CAST(decision_id AS VARCHAR), body || "
                  "CAST(\"at\" AS VARCHAR)))" if table is DECISIONS else "DISTINCT")
        selects.append(f"SELECT {unique} * FROM ({' UNION ALL BY NAME '.join(sources)})")
    if not selects:
        return empty_select(table)
    return " UNION ALL BY NAME ".join(f"({s})" for s in selects)


def _read(files: list[Path]) -> str:
    return (f"SELECT * FROM read_parquet({_sql_list(files)}, hive_partitioning = true, "
            "hive_types = {'day': VARCHAR})")
