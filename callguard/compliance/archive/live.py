# ruff: noqa: S608 - SQL text is made of the archive's own names and relations; values
# a user gives (zone, instants, campaign, ...) go as parameters.
"""Records not yet archived, as DuckDB tables shaped like the archive's.

Queries read the archive and these together (``store.union_view``): closed segments the
manifest does not name, the current file, or the stream's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

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


def _days_of(connection: duckdb.DuckDBPyConnection, name: str | None) -> list[str]:
    """The days a live table's rows were logged on: archived days that may hold them too."""
    if name is None:
        return []
    return [str(day) for (day,) in connection.execute(f"SELECT DISTINCT day FROM {name}")
            .fetchall()]


def report_with_live(archive: Archive, unarchived: Callable[[Manifest], Iterable[Record]],
                     query: figures.ReportQuery, *, archived: bool, first: date | None,
                     last: date | None, generated: datetime, threads: int
                     ) -> figures.Report:
    """The report over the archive's days (``archived``; else the records alone, as
    ``report --stream``) and the records it does not hold yet (``unarchived`` of the
    manifest read): ``callguard report`` and the supervisor page. Read again on the new
    manifest if an archiver's commit removes a file under it (``read_through_commits``)."""

    def read() -> figures.Report:
        connection = connect(threads=threads)
        try:
            manifest = archive.manifest() if archived else Manifest()
            live = register_live(connection, unarchived(manifest))
            return figures.build(
                connection,
                union_view(archive, manifest, DECISIONS, first=first, last=last,
                           live=live["decisions"],
                           live_days=_days_of(connection, live["decisions"])),
                union_view(archive, manifest, EVENTS, first=first, last=last,
                           live=live["events"], live_days=_days_of(connection, live["events"])),
                query, generated=generated)
        finally:
            connection.close()

    return read_through_commits(archive, read)
