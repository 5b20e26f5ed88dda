"""A compliance record as a row of the archive, and back, losing nothing.

Two tables: ``decisions`` (one row per decision record) and ``events`` (every other
kind). The fields a query filters or counts on, and the ones that differ on every
record (ids, hashes, instants, measured times), are columns of their own, typed, so
Parquet stores them compactly and DuckDB prunes by them; every other field stays in
``body``, the record's remaining JSON with sorted keys — the same few dozen bodies
repeat across millions of decisions, so they cost a dictionary index each.

A field becomes a column only when its value has that column's exact type (a string
for VARCHAR, a float for DOUBLE, a canonical UUID, 64 hex for a hash, ...); anything
else (a null, an int where a float is usual, a legacy instant with microseconds) stays
in ``body`` as written, so ``record_of(row_of(r)) == r`` for every record. A test holds
that on real records of every kind, legacy ones included.

The columns are fixed: a field added to a kind later (the decision's ``telemarketer``,
``places_call``, ``withdraws``) stays in ``body``, where readers find it (``report`` with
``contains``/``json_extract_string``, ``evidence`` through ``record_of``). A new column
would not be in the day and month files written before it, and DuckDB's read_parquet over
such a file and a newer one (``store._read``: one scan per list of files) takes the first
file's columns: the older first, the new column is silently dropped; the newer first, the
scan fails ("schema mismatch"). Every scan of several data files now reads by name
(``store._BY_NAME``; tests/test_hcc23_archive_schemas.py reads month files of two schemas):
a file without a column gives NULL there. Making a field a column still takes every reader
of it to fall back on ``body`` for the rows written before (``record_of`` does; SQL such
as the report's must ``coalesce`` the column with the body's value, as it does for
``release_ms``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

__all__ = ["DECISIONS", "EVENTS", "Column", "Table", "columns_of", "instant_text", "record_of",
           "row_of", "table_for"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_INT32 = 2**31


def instant_text(instant: datetime) -> str:
    """The records' instant form: UTC, milliseconds, ``Z``."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


@dataclass(frozen=True, slots=True)
class Column:
    """A promoted field: its DuckDB type, the test a value must pass, and the conversions."""

    name: str
    sql: str
    accepts: Callable[[Any], bool]
    to_cell: Callable[[Any], Any] = lambda value: value
    to_field: Callable[[Any], Any] = lambda cell: cell


def _text(name: str) -> Column:
    return Column(name, "VARCHAR", lambda v: isinstance(v, str))


def _float(name: str) -> Column:
    return Column(name, "DOUBLE", lambda v: isinstance(v, float))


def _bool(name: str) -> Column:
    return Column(name, "BOOLEAN", lambda v: isinstance(v, bool))


def _int(name: str, sql: str = "INTEGER") -> Column:
    return Column(name, sql, lambda v: isinstance(v, int) and not isinstance(v, bool)
                  and -_INT32 <= v < _INT32)


_DECISION_ID = Column("decision_id", "UUID", lambda v: isinstance(v, str) and bool(
    _UUID.match(v)), to_field=str)
_NUMBER_HASH = Column("number_hash", "BLOB", lambda v: isinstance(v, str) and bool(
    _HASH.match(v)), bytes.fromhex, lambda cell: bytes(cell).hex())
_SCHEMA = Column("schema", "TINYINT", lambda v: isinstance(v, int) and not isinstance(
    v, bool) and 0 <= v < 128)


@dataclass(frozen=True, slots=True)
class Table:
    """One archive table: its columns besides the instants and ``body``.

    ``instant`` is the time column (decisions: ``at``, events: ``logged_at``); decisions
    also keep ``logged_at`` as microseconds after ``at`` (``logged_delay_us``).
    """

    name: str
    instant: str
    columns: tuple[Column, ...]
    sort: str  # the order of rows in a compacted day: what lookups prune by

    @property
    def sql_columns(self) -> dict[str, str]:
        """Column name -> DuckDB type, in file order (``day`` comes from the path)."""
        out = {self.instant: "TIMESTAMPTZ"}
        if self.name == "decisions":
            out["logged_delay_us"] = "BIGINT"
        out.update((c.name, c.sql) for c in self.columns)
        out["body"] = "VARCHAR"
        return out


DECISIONS = Table("decisions", "at", (
    _DECISION_ID, _SCHEMA, _text("node"), _text("key_id"), _text("front"), _text("verdict"),
    _text("rule"), _text("reason"), _text("campaign"), _text("solicitor"), _text("mode"),
    _NUMBER_HASH, _text("number_last4"), _int("latency_us"), _text("linkedid"),
    _text("reference"),
), sort="number_id NULLS LAST, \"at\"")  # layout 2: by number id (store.py)

EVENTS = Table("events", "logged_at", (
    _text("event"), _SCHEMA, _text("node"), _text("key_id"), _DECISION_ID, _text("campaign"),
    _text("mode"), _NUMBER_HASH, _text("number_last4"), _text("action"), _text("solicitor"),
    _text("called_channel"), _float("release_ms"), _float("first_action_ms"),
    _bool("within_limit"), _bool("agent_within_2s"), _float("elapsed_ms"),
), sort="number_hash NULLS LAST, decision_id, logged_at")


def table_for(record: Mapping[str, Any]) -> Table:
    """Decisions go to ``decisions``, every other kind to ``events``."""
    return DECISIONS if record.get("event") == "decision" else EVENTS


_MISSING = object()


def _fast_instant(value: Any) -> tuple[datetime | None, bool]:
    """(UTC instant, whether ``value`` is the canonical spelling) without re-rendering."""
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[19] == ".":
        try:
            return datetime.fromisoformat(value), True
        except ValueError:
            return None, False
    return _instant(value), False


def _checks(table: Table) -> tuple[tuple[str, Callable[[Any], bool], Callable[[Any], Any]],
                                   ...]:
    return tuple((c.name, c.accepts, c.to_cell) for c in table.columns)


def row_of(record: Mapping[str, Any]) -> tuple[Table, dict[str, Any], datetime] | None:
    """The table, the row and the UTC instant it was logged; None when it has no
    readable ``logged_at`` (a record the archive cannot place in a day)."""
    table = DECISIONS if record.get("event") == "decision" else EVENTS
    rest = dict(record)
    logged, canonical = _fast_instant(rest.get("logged_at"))
    if logged is None:
        return None
    row: dict[str, Any] = {}
    if table is DECISIONS:
        del rest["event"]
        at, at_canonical = _fast_instant(rest.get("at"))
        # Without a readable ``at`` the column holds logged_at and the delay is NULL.
        if at is None:
            row["at"], row["logged_delay_us"] = logged, None
        else:
            row["at"] = at
            row["logged_delay_us"] = (logged - at) // _MICROSECOND
            if at_canonical:
                del rest["at"]  # rebuilt from the column; other spellings stay in body
            if canonical:
                del rest["logged_at"]
    else:
        row["logged_at"] = logged
        if canonical:
            del rest["logged_at"]
    for name, accepts, to_cell in _CHECKS[table.name]:
        value = rest.pop(name, _MISSING)
        if value is _MISSING:
            row[name] = None
        elif value is not None and accepts(value):
            row[name] = to_cell(value)
        else:
            rest[name] = value
            row[name] = None
    row["body"] = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS).decode()
    return table, row, logged


_MICROSECOND = timedelta(microseconds=1)
_CHECKS = {DECISIONS.name: _checks(DECISIONS), EVENTS.name: _checks(EVENTS)}


def record_of(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """The record a row was made from (keys in a readable order, common fields first)."""
    body = orjson.loads(row["body"])
    record: dict[str, Any] = {}
    if table is DECISIONS:
        record["event"] = "decision"
    for column in table.columns:
        cell = row.get(column.name)
        if cell is not None:
            record[column.name] = column.to_field(cell)
    if table is DECISIONS:
        at, delay = row["at"], row["logged_delay_us"]
        if delay is None:  # no readable ``at``: the column is logged_at
            if "logged_at" not in body:
                record["logged_at"] = instant_text(at)
        else:
            if "at" not in body:
                record["at"] = instant_text(at)
            if "logged_at" not in body:
                record["logged_at"] = instant_text(at + timedelta(microseconds=delay))
    elif "logged_at" not in body:
        record["logged_at"] = instant_text(row["logged_at"])
    record.update(body)
    return _ordered(record)


_FIRST = ("schema", "event", "logged_at", "node", "key_id", "decision_id", "at")


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    out = {key: record[key] for key in _FIRST if key in record}
    out.update((key, value) for key, value in record.items() if key not in out)
    return out


def columns_of(rows: Iterable[Mapping[str, Any]], table: Table) -> dict[str, list[Any]]:
    """Rows as one list per column (what DuckDB scans as a table)."""
    names = list(table.sql_columns)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name in names:
            out[name].append(row.get(name))
    return out
