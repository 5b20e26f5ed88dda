"""An archive whose month files were written with different columns (hcc23).

A column added to a table later (columns.py: the decision's ``telemarketer``, were it made a
column) is not in the day and month files written before it. DuckDB's read_parquet over a
list of files takes the first file's columns: the older file first, the new column is
dropped for every file (and a query naming it fails); the newer first, the scan refuses
("schema mismatch in glob"). Every multi-file read_parquet of the archive now reads by
name (``union_by_name``): a file without a column gives NULL there, and the field is read
from the row's ``body`` as it was written then.

A real archive with month files (archive_files, months_before), whose oldest or newest
month file is then rewritten as an archiver without one column wrote it (that column's
values in ``body``, as columns.py keeps any field that is not a column): every record,
evidence of a number and of a decision, the report, and a purge cutting the months answer
as before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest

from bench.synthetic_records import e164, number_hash
from callguard.compliance.archive.columns import DECISIONS, EVENTS
from callguard.compliance.archive.ingest import archive_files
from callguard.compliance.archive.store import Archive, connect
from tests.log_files import LATER, write_log
from tests.test_archive_months import _document, _everything, _lines, _report

# (table, the column an older archiver did not have): one the report reads from ``body``
# too (release_ms), one it never groups by (reason)
DROPPED = {DECISIONS.name: "reason", EVENTS.name: "release_ms"}


def _as_older(archive: Archive, file: str, column: str) -> None:
    """Rewrite one Parquet file without ``column``, its values moved into ``body``."""
    path = archive.root / file
    connection = connect()
    before = connection.execute(
        f"SELECT count(*), count({column}) FROM read_parquet('{path}')").fetchone()
    assert before is not None
    assert before[1] > 0, (file, column, before)  # a column with values
    older = path.with_suffix(".older")
    connection.execute(
        f"COPY (SELECT * EXCLUDE ({column}, body), CASE WHEN {column} IS NULL THEN body "
        f"ELSE CAST(json_merge_patch(body, json_object('{column}', {column})) AS VARCHAR) "
        f"END AS body FROM read_parquet('{path}', hive_partitioning = false)) TO "
        f"'{older}' (FORMAT parquet, COMPRESSION zstd)")
    columns = {name for (name,) in connection.execute(
        f"SELECT name FROM parquet_schema('{older}')").fetchall()}
    assert column not in columns
    assert "body" in columns
    older.replace(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("archive")
    lines = _lines(3000, days=100)
    log = tmp_path / "compliance.jsonl"
    write_log(log, lines, closed=[(len(lines), False)])
    return tmp_path, log, lines


@pytest.mark.parametrize("older", ["oldest month", "newest month"])
def test_month_files_of_two_schemas_read_as_one(site, tmp_path, older):
    """The file lacking the column first in the scan (columns dropped), then last (the
    scan refused): both fail on main before union_by_name."""
    _, log, lines = site
    archive = Archive(tmp_path / "archive")
    run = archive_files(archive, log, compact_before=LATER, months_before=LATER)
    assert run.month_files == 6  # Feb, Mar, Apr; decisions and events
    everything = _everything(archive)
    report = _report(archive, None, None)
    ranged = _report(archive, datetime(2026, 2, 20, tzinfo=UTC),
                     datetime(2026, 4, 10, tzinfo=UTC))
    hashed = [number_hash(e164(i)) for i in (0, 7, 150)]
    evidence = [_document(archive, number_hash=h) for h in hashed]
    decision = next(r["decision_id"] for r in map(orjson.loads, lines)
                    if r["event"] == "decision" and r["at"].startswith("2026-03-2"))
    one = _document(archive, decision_id=decision)

    manifest = archive.manifest()
    for table, column in DROPPED.items():
        months = sorted((p for p in manifest.files(table) if p.until), key=lambda p: p.day)
        _as_older(archive, (months[0] if older == "oldest month" else months[-1]).file,
                  column)

    assert _everything(archive) == everything
    assert _report(archive, None, None) | {"generated": None} == report | {"generated": None}
    assert _report(archive, datetime(2026, 2, 20, tzinfo=UTC),
                   datetime(2026, 4, 10, tzinfo=UTC)) | {"generated": None} == ranged | {
                       "generated": None}
    assert [_document(archive, number_hash=h) for h in hashed] == evidence
    assert _document(archive, decision_id=decision) == one

    # a purge cutting the middle month (split into days; the number table kept to the ids
    # the remaining files use, read over every decision file)
    archive.drop_days_before(date(2026, 3, 10))
    after = _everything(archive)
    assert after
    assert len(after) < len(everything)
    assert set(after) <= set(everything)
    after_purge = _document(archive, decision_id=decision)  # on Mar 2x, after the cutoff
    assert after_purge["decisions"] == one["decisions"]
    assert after_purge["archive_days"] < one["archive_days"]  # the days purged
