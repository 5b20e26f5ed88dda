# ruff: noqa: S608 - SQL text is made of the archive's own names and relations; values
# a user gives (zone, instants, campaign, ...) go as parameters.
"""Records not yet archived, as DuckDB tables shaped like the archive's.

Queries read the archive and these together (``store.union_view``): closed segments the
manifest does not name, the current file, or the stream's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from callguard.compliance import report as figures
from callguard.compliance.archive.columns import DECISIONS, EVENTS, columns_of, row_of
from callguard.compliance.archive.store import (
    Archive,
    Manifest,
    arrays_of,
    casts,
    connect,
    read_through_commits,
    union_view,
)
from callguard.compliance.reader import Record
from callguard.front_names import DIALLING_FRONTS

__all__ = ["register_live", "report_with_live"]


def register_live(connection: duckdb.DuckDBPyConnection, records: Iterable[Record],
                  ) -> dict[str, str | None]:
    """Register the records as ``live_decisions``/``live_events``; their names (or None)."""
    rows: dict[str, list[dict[str, object]]] = {"decisions": [], "events": []}
    days: dict[str, list[str]] = {"decisions": [], "events": []}
    for record in records:
        placed = row_of(record)
        if placed is None:
            continue
        table, row, logged = placed
        rows[table.name].append(row)
        days[table.name].append(logged.date().isoformat())
    names: dict[str, str | None] = {}
    for table in (DECISIONS, EVENTS):
        if not rows[table.name]:
            names[table.name] = None
            continue
        name = f"live_{table.name}"
        raw = f"{name}_raw"
        connection.register(raw, arrays_of(table, columns_of(rows[table.name], table),
                                           days[table.name]))
        connection.execute(f"CREATE TEMP TABLE {name} AS SELECT {casts(table)}, day "
                           f"FROM {raw}")
        connection.unregister(raw)
        names[table.name] = name
    return names


def _with_calls_dated_in_range(archive: Archive, manifest: Manifest, decisions: str,
                               query: figures.ReportQuery, first: date | None,
                               last: date | None, live: str | None) -> str:
    """``decisions`` (the archive's days ``first`` to ``last`` and the live rows) and the
    calls of every other archived day whose instant ``at`` is in the query's range.

    The archive's days are the days records were logged; a call is dated by its ``at``,
    which an HTTP check may set a month or a year away. Reading the range's days (two
    more each side) alone, such a call was in the unfiltered report and in no ranged one.
    ``at`` is a typed column: Parquet statistics skip every row group that holds no
    instant in range, so the other days cost their footers (~0.2 s over 1,830 files).
    A call also among the ``live`` rows (the archiver's own node archives the stream, and
    its file is read as unarchived) is taken from them alone."""
    if first is None and last is None:
        return decisions  # every day is read already
    bounds = [f'"at" >= TIMESTAMPTZ \'{query.since.isoformat()}\'' if query.since else "",
              f'"at" < TIMESTAMPTZ \'{query.until.isoformat()}\'' if query.until else ""]
    fronts = ", ".join(repr(f) for f in sorted(DIALLING_FRONTS))
    where = " AND ".join([f"front IN ({fronts})", *(b for b in bounds if b), *(
        [f"NOT EXISTS (SELECT 1 FROM {live} AS l WHERE CAST(l.decision_id AS VARCHAR) = "
         "CAST(o.decision_id AS VARCHAR))"] if live else [])])
    others = []
    if first is not None:
        others.append(union_view(archive, manifest, DECISIONS, last=first - timedelta(days=1)))
    if last is not None:
        others.append(union_view(archive, manifest, DECISIONS, first=last + timedelta(days=1)))
    return " UNION ALL BY NAME ".join(
        [f"({decisions})", *(f"(SELECT * FROM ({other}) AS o WHERE {where})" for other in others)])


def _days_of(connection: duckdb.DuckDBPyConnection, name: str | None) -> list[str]:
    """The days a live table's rows were logged on: archived days that may hold them too."""
    if name is None:
        return []
    return [str(day) for (day,) in connection.execute(f"SELECT DISTINCT day FROM {name}")
            .fetchall()]


def report_with_live(archive: Archive, unarchived: Callable[[Manifest], Iterable[Record]],
                     query: figures.ReportQuery, *, archived: bool, first: date | None,
                     last: date | None, generated: datetime, threads: int,
                     log: Path | None = None, unarchived_name: str | None = None,
                     ) -> figures.Report:
    """The report over the archive's days (``archived``; else the records alone, as
    ``report --stream``) and the records it does not hold yet (``unarchived`` of the
    manifest read): ``callguard report`` and the supervisor page. Read again on the new
    manifest if an archiver's commit removes a file under it (``read_through_commits``).
    ``log``: the unarchived log read, when one is (a purge of another is not named);
    ``unarchived_name``: what the unarchived records are when not a file (a stream), said
    in the report's ``sources``."""

    def read() -> figures.Report:
        connection = connect(threads=threads)
        try:
            manifest = archive.manifest() if archived else Manifest()
            live = register_live(connection, unarchived(manifest))
            sources = _sources(archive, manifest, archived, log, unarchived_name)
            decisions = union_view(archive, manifest, DECISIONS, first=first, last=last,
                                   live=live["decisions"],
                                   live_days=_days_of(connection, live["decisions"]))
            if archived:
                decisions = _with_calls_dated_in_range(archive, manifest, decisions, query,
                                                       first, last, live["decisions"])
            live_days = _days_of(connection, live["events"])
            report = figures.build(
                connection, decisions,
                union_view(archive, manifest, EVENTS, first=first, last=last,
                           live=live["events"], live_days=live_days),
                query, generated=generated, log=str(log.resolve()) if log else None,
                # a purge that destroyed records after --since was logged after it (its
                # cutoff is before when it ran): the days from --since on, whatever --until
                purges=union_view(archive, manifest, EVENTS, live=live["events"],
                                  live_days=live_days, first=query.since.astimezone(
                                      UTC).date() - timedelta(days=1) if query.since else None))
            report.sources = sources
            return report
        finally:
            connection.close()

    return read_through_commits(archive, read)


def _sources(archive: Archive, manifest: Manifest, archived: bool, log: Path | None,
             name: str | None) -> dict[str, object]:
    """What a report reads: the archive (its root and the days its manifest holds) and the
    unarchived records (the log file, or ``name``), for every rendering's header."""
    held = archived and archive.exists()
    return {"archive": str(archive.root.resolve()) if held else None,
            "archive_days": len(manifest.days()) if held else 0,
            "archive_missing": (str(archive.root.resolve())
                                if archived and not held and str(archive.root) != "." else None),
            "unarchived": name or (str(log.resolve()) if log else None)}
