"""Month files (archive format 3): the same answers as the day files they replace, a crash
mid-way leaves the archive readable, purge cuts a month at the day, old archives roll up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from bench.bench_archive_numbers import old_layout
from bench.synthetic_records import Factory, e164, number_hash
from callguard.compliance import report as figures
from callguard.compliance.archive.columns import DECISIONS, EVENTS, record_of
from callguard.compliance.archive.evidence import LiveLines, gather
from callguard.compliance.archive.ingest import archive_files, compact_months
from callguard.compliance.archive.store import (
    NUMBERED,
    Archive,
    connect,
    fetch_rows,
    read_through_commits,
    union_view,
)
from callguard.errors import ArchiveDamagedError
from tests.conftest import ROOT
from tests.log_files import LATER, NEVER, cli, config, synthetic, write_log

GENERATED = datetime(2027, 1, 1, tzinfo=UTC)


def _everything(archive: Archive) -> list[str]:
    connection = connect()
    manifest = archive.manifest()
    return sorted(orjson.dumps(record_of(table, row), option=orjson.OPT_SORT_KEYS).decode()
                  for table in (DECISIONS, EVENTS)
                  for row in fetch_rows(connection, union_view(archive, manifest, table,
                                                               numbers=True), table))


def _lines(count: int = 5000, days: int = 100) -> list[bytes]:
    """Jan 5 to mid-April 2026: an oldest month, two whole months, and part of one."""
    return list(Factory(count, days=days, pool=300, packs_loaded=True).lines())


def _seventy_days(tmp_path: Path, *, compressed: bool = False) -> tuple[Path, Archive]:
    """3,000 decisions from Jan 5 over 70 days in one closed segment (compressed or
    plain), and an empty archive beside it."""
    log = tmp_path / "compliance.jsonl"
    lines = _lines(3000, days=70)
    write_log(log, lines, closed=[(len(lines), compressed)])
    return log, Archive(tmp_path / "archive")


def _twin(tmp_path: Path, lines: list[bytes]) -> tuple[Archive, Archive]:
    """The same log archived as day files only, and with month files."""
    log = tmp_path / "compliance.jsonl"
    write_log(log, lines, closed=[(len(lines) // 2, True), (len(lines) - len(lines) // 2,
                                                           False)])
    days, months = Archive(tmp_path / "days"), Archive(tmp_path / "months")
    archive_files(days, log, compact_before=LATER)
    run = archive_files(months, log, compact_before=LATER, months_before=LATER)
    assert run.month_files == 6  # Feb, Mar, Apr; decisions and events
    return days, months


def _report(archive: Archive, since: datetime | None, until: datetime | None) -> dict:
    connection = connect()
    manifest = archive.manifest()
    first = since.date() - timedelta(days=2) if since else None
    last = until.date() + timedelta(days=2) if until else None
    done = figures.build(
        connection, union_view(archive, manifest, DECISIONS, first=first, last=last),
        union_view(archive, manifest, EVENTS, first=first, last=last),
        figures.ReportQuery(since=since, until=until), generated=GENERATED)
    return figures.to_json(done)


def _document(archive: Archive, **query: object) -> dict:
    found = gather(archive, LiveLines(), **query)  # type: ignore[arg-type]
    return {"decisions": found.decisions, "events": found.events,
            "archive_days": found.archive_days, "key_ids": sorted(found.key_ids),
            "packs": [found.packs_loaded_before(d) for d in found.decisions]}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestSameAnswers:
    def test_evidence_and_report_are_the_same_before_and_after(self, tmp_path):
        lines = _lines()
        days, months = _twin(tmp_path, lines)
        manifest = months.manifest()
        files = manifest.files("decisions")
        assert sorted(p.day[:7] for p in files if p.until) == ["2026-02", "2026-03",
                                                                "2026-04"]
        assert all(p.day.startswith("2026-01") and not p.until for p in files
                   if not p.until)  # the oldest month stays in days
        assert all(p.layout == NUMBERED for p in files)
        assert json.loads(months.manifest_path.read_bytes())["version"] == 3
        written = json.loads(days.manifest_path.read_bytes())
        assert written["version"] == 2
        # as a callguard before month files wrote it (its Part takes these fields only)
        assert {tuple(sorted(p)) for p in written["parts"]} == {
            ("compacted", "day", "file", "key_ids", "layout", "rows", "table")}
        assert manifest.days() == days.manifest().days()
        assert _everything(months) == _everything(days)
        # ``day`` is a column of a month file, and its rows are in lookup order
        connection = connect()
        month = months.root / next(p.file for p in files if p.until)
        ordered = connection.execute(
            f"SELECT count(DISTINCT day) > 20, bool_and(number_id >= coalesce(lag, 0)) FROM "
            f"(SELECT day, number_id, lag(number_id) OVER () AS lag FROM "
            f"read_parquet('{month}', hive_partitioning = false))").fetchone()
        assert ordered == (True, True)
        records = [orjson.loads(x) for x in lines]
        decisions = [r for r in records if r["event"] == "decision"]
        for index in (0, 7, 150, 299):
            hashed = number_hash(e164(index))
            found = []
            for span in ({}, {"first": _at("2026-02-10"), "last": _at("2026-03-20")},
                         {"first": _at("2026-03-31T23:00:00")}):
                found.append(_document(days, number_hash=hashed, **span))
                assert found[-1] == _document(months, number_hash=hashed, **span)
            assert found[0]["decisions"]
            assert len(found[1]["decisions"]) < len(found[0]["decisions"])
        for decision in decisions[::400]:
            one = _document(months, decision_id=decision["decision_id"])
            assert one == _document(days, decision_id=decision["decision_id"])
            assert one["decisions"] == [decision]
        for since, until in ((None, None), ("2026-02-10", "2026-02-11"),
                             ("2026-02-20", "2026-03-10"), (None, "2026-03-15"),
                             ("2026-03-30T12:00:00", None)):
            window = (_at(since) if since else None, _at(until) if until else None)
            assert _report(months, *window) == _report(days, *window)
        for first, last in ((date(2026, 2, 3), date(2026, 2, 3)),
                            (date(2026, 1, 30), date(2026, 3, 2)), (None, None)):
            assert months.manifest().key_ids(first=first, last=last) == (
                days.manifest().key_ids(first=first, last=last))
            assert months.manifest().days(first=first, last=last) == (
                days.manifest().days(first=first, last=last))

    def test_records_archived_late_rewrite_their_month(self, tmp_path):
        lines = _lines(3000, days=70)
        # every third record of February: days the month file holds
        late = [x for i, x in enumerate(lines)
                if orjson.loads(x)["logged_at"].startswith("2026-02") and i % 3 == 0]
        log = tmp_path / "compliance.jsonl"
        rest = [x for x in lines if x not in late]
        write_log(log, rest, closed=[(len(rest), False)])
        months = Archive(tmp_path / "months")
        archive_files(months, log, compact_before=LATER, months_before=LATER)
        before = {p.file for p in months.manifest().parts if p.until}
        # the late ones, and again some already archived (deduplicated)
        write_log(log, [*rest, *late, *rest[:200]],
                  closed=[(len(rest), False), (len(late) + 200, False)])
        run = archive_files(months, log, compact_before=LATER, months_before=LATER)
        assert run.month_files == 0  # the days were merged into their months' files
        # February's 28 days and January's 4 (in days), each counted once for both tables
        assert run.compacted_days == 28 + 4
        manifest = months.manifest()
        assert all(p.compacted for p in manifest.parts)
        assert not any(p.day.startswith("2026-02") and not p.until for p in manifest.parts)
        assert {p.file for p in manifest.parts if p.until} != before
        expected = sorted(orjson.dumps(orjson.loads(x), option=orjson.OPT_SORT_KEYS).decode()
                          for x in lines)
        assert _everything(months) == expected
        assert not [f for f in months.root.rglob("*.parquet")
                    if str(f.relative_to(months.root)) not in
                    {p.file for p in manifest.parts} | {n.file for n in manifest.numbers}]


_DIE = """
import os, sys
sys.path.insert(0, {root!r})
from datetime import date
from pathlib import Path
from callguard.compliance.archive import store
from callguard.compliance.archive.ingest import compact_months
where = {where!r}
real_commit, real_delete = store.Archive.commit, store.Archive.delete_files
def commit(self, manifest):
    if where == "commit" and any(p.until for p in manifest.parts):
        os._exit(9)  # the month file written and fsynced, the manifest not replaced
    if where == "purge":
        os._exit(9)  # the kept days written as day files, the manifest not replaced
    real_commit(self, manifest)
def delete_files(self, parts):
    if where == "delete":
        os._exit(9)  # committed, the day files not removed yet
    real_delete(self, parts)
store.Archive.commit, store.Archive.delete_files = commit, delete_files
archive = store.Archive(Path({path!r}))
if where == "purge":
    archive.drop_days_before(date(2026, 2, 17))
with archive.writing() as manifest:
    compact_months(archive, manifest, store.connect(), before=date(2100, 1, 1))
"""


class TestCrash:
    @pytest.mark.parametrize("where", ["commit", "delete"])
    def test_a_writer_killed_mid_way_leaves_the_archive_readable(self, tmp_path, where):
        log, archive = _seventy_days(tmp_path, compressed=True)
        archive_files(archive, log, compact_before=LATER)
        everything = _everything(archive)
        before = archive.manifest()
        died = subprocess.run([sys.executable, "-c", _DIE.format(
            root=str(ROOT), where=where, path=str(archive.root))], check=False)
        assert died.returncode == 9
        after = archive.manifest()
        on_disk = {str(f.relative_to(archive.root)) for f in archive.root.rglob("*.parquet")}
        named = {p.file for p in after.parts} | {n.file for n in after.numbers}
        assert on_disk - named  # a file the manifest does not name: never read
        if where == "commit":
            assert after.parts == before.parts
        else:
            assert sum(1 for p in after.parts if p.until) == 1
        assert _everything(archive) == everything
        hashed = number_hash(e164(3))
        assert gather(archive, LiveLines(), number_hash=hashed).decisions
        # the next writer removes the strays and finishes the work
        with archive.writing() as manifest:
            compact_months(archive, manifest, connect(), before=LATER)
        done = archive.manifest()
        on_disk = {str(f.relative_to(archive.root)) for f in archive.root.rglob("*.parquet")}
        assert on_disk == {p.file for p in done.parts} | {n.file for n in done.numbers}
        assert sum(1 for p in done.parts if p.until) == 4  # Feb and Mar, both tables
        assert _everything(archive) == everything


class TestPurge:
    def test_a_purge_killed_before_its_commit_leaves_the_archive_as_it_was(self, tmp_path):
        log, archive = _seventy_days(tmp_path)
        archive_files(archive, log, compact_before=LATER, months_before=LATER)
        everything = _everything(archive)
        before = archive.manifest()
        died = subprocess.run([sys.executable, "-c", _DIE.format(
            root=str(ROOT), where="purge", path=str(archive.root))], check=False)
        assert died.returncode == 9
        assert archive.manifest().parts == before.parts
        on_disk = {str(f.relative_to(archive.root)) for f in archive.root.rglob("*.parquet")}
        assert any("day=2026-02-" in f for f in on_disk - {p.file for p in before.parts})
        assert _everything(archive) == everything
        archive.drop_days_before(date(2026, 2, 17))
        after = archive.manifest()
        on_disk = {str(f.relative_to(archive.root)) for f in archive.root.rglob("*.parquet")}
        assert on_disk == {p.file for p in after.parts} | {n.file for n in after.numbers}
        assert min(after.days()) == "2026-02-17"

    def test_purge_across_a_month_cuts_it_at_the_day(self, tmp_path):
        lines = _lines()
        days, months = _twin(tmp_path, lines)
        cutoff = date(2026, 2, 17)
        dry = months.drop_days_before(cutoff, dry_run=True)
        assert dry == days.drop_days_before(cutoff, dry_run=True)
        assert dry[0] == 43  # Jan 5 to Feb 16
        assert months.drop_days_before(cutoff) == dry
        assert days.drop_days_before(cutoff) == dry
        manifest = months.manifest()
        assert min(manifest.days()) == "2026-02-17"
        assert not any(p.day < "2026-02-17" for p in manifest.parts)
        february = [p for p in manifest.parts if p.day.startswith("2026-02")]
        assert february
        assert not any(p.until for p in february)  # day files now
        assert _everything(months) == _everything(days)
        kept = sorted(orjson.dumps(orjson.loads(x), option=orjson.OPT_SORT_KEYS).decode()
                      for x in lines if orjson.loads(x)["logged_at"][:10] >= "2026-02-17")
        assert _everything(months) == kept
        on_disk = {str(f.relative_to(months.root)) for f in months.root.rglob("*.parquet")}
        assert on_disk == {p.file for p in manifest.parts} | {n.file for n in manifest.numbers}
        # the cut month is now the oldest: compaction leaves it in days for purge
        with months.writing() as held:
            assert compact_months(months, held, connect(), before=LATER) == 0
        # a cutoff past a whole month file: the file goes whole
        cutoff = date(2026, 4, 2)
        assert months.drop_days_before(cutoff) == days.drop_days_before(cutoff)
        assert not any(p.day.startswith("2026-03") for p in months.manifest().parts)
        assert _everything(months) == _everything(days)
        hashed = number_hash(e164(11))
        assert _document(months, number_hash=hashed) == _document(days, number_hash=hashed)


    def test_the_cli_archives_in_months_and_purge_dry_run_counts_right(self, tmp_path):
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        now = datetime.now(UTC)
        start = (now - timedelta(days=1900)).replace(hour=0, minute=0, second=0,
                                                     microsecond=0)
        lines = synthetic(4000, start=start, days=100)
        write_log(log, lines, closed=[(len(lines), False)])
        path = config(tmp_path, data)
        archived = cli("archive", "--keep-segments-days", "-1", "--json", config_path=path)
        assert archived.returncode == 0, archived.stderr
        assert json.loads(archived.stdout)["month_files"] >= 4  # the default: 7 days after
        archive = Archive(data / "archive")
        second = (start.replace(day=1) + timedelta(days=32)).replace(day=1).date()
        cutoff = second + timedelta(days=10)  # inside the second month's file
        assert any(p.day < cutoff.isoformat() <= p.until for p in archive.manifest().parts)
        older = ["--older-than", str((now.date() - cutoff).days)]
        due = [orjson.loads(x) for x in lines
               if orjson.loads(x)["logged_at"][:10] < cutoff.isoformat()]
        dry = cli("purge", *older, "--dry-run", "--json", config_path=path)
        assert dry.returncode == 0, dry.stderr
        expected = {"path": str(archive.root), "removed": len(due),
                    "days_deleted": len({r["logged_at"][:10] for r in due})}
        assert json.loads(dry.stdout)["archive"] == expected
        done = cli("purge", *older, "--yes", "--below-retention", "--json",
                   config_path=path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["archive"] == expected
        manifest = archive.manifest()
        assert min(manifest.days()) == cutoff.isoformat()
        assert not any(p.until for p in manifest.parts if p.day[:7] == cutoff.isoformat()[:7])


class TestOldArchives:
    def test_an_old_layout_archive_rolls_up_and_answers_the_same(self, tmp_path):
        log, archive = _seventy_days(tmp_path)
        archive_files(archive, log, compact_before=NEVER)
        old_layout(archive)  # format 1: days sorted by hash, no number table
        everything = _everything(archive)
        hashed = number_hash(e164(9))
        document = _document(archive, number_hash=hashed)
        assert document["decisions"]
        with archive.writing() as manifest:
            assert compact_months(archive, manifest, connect(), before=LATER) == 4
        assert _everything(archive) == everything
        assert _document(archive, number_hash=hashed) == document

    def test_a_month_is_rolled_once_it_ended_long_enough_ago(self, tmp_path):
        log, archive = _seventy_days(tmp_path)
        archive_files(archive, log, compact_before=LATER, months_before=date(2026, 2, 28))
        assert not any(p.until for p in archive.manifest().parts)  # Feb ends on the 28th
        archive_files(archive, log, compact_before=LATER, months_before=date(2026, 3, 1))
        assert sorted({p.day[:7] for p in archive.manifest().parts if p.until}) == [
            "2026-02"]


class TestReadersAndCommits:
    """A reader takes the manifest, then reads the files it names; a commit between the two
    (the archiver rolling a month up, a purge) removes those files."""

    def _days_only(self, tmp_path: Path) -> Archive:
        log = tmp_path / "compliance.jsonl"
        lines = _lines(3000, days=70)
        write_log(log, lines, closed=[(len(lines), False)])
        archive = Archive(tmp_path / "archive")
        archive_files(archive, log, compact_before=LATER)  # day files, no month yet
        return archive

    def test_a_read_that_met_a_rollup_is_run_again_on_the_new_manifest(self, tmp_path):
        """The first read holds the manifest from before the rollup (its day files gone
        under it: DuckDB's IO error, which reached the officer); it runs again on the new
        one and answers what a read after the rollup answers."""
        archive = self._days_only(tmp_path)
        tries: list[int] = []

        def read() -> dict:
            stale = archive.manifest()
            if not tries:  # the archiver commits between this reader's two steps
                with archive.writing() as manifest:
                    assert compact_months(archive, manifest, connect(), before=LATER) > 0
            tries.append(1)
            done = figures.build(connect(), union_view(archive, stale, DECISIONS),
                                 union_view(archive, stale, EVENTS), figures.ReportQuery(),
                                 generated=GENERATED)
            return figures.to_json(done)

        answer = read_through_commits(archive, read)
        assert len(tries) == 2
        assert answer == _report(archive, None, None)

    def test_a_file_gone_with_no_commit_is_an_error_not_a_retry(self, tmp_path):
        """A damaged archive (a file its manifest names deleted by hand) is not retried:
        the same manifest would meet the same hole."""
        archive = self._days_only(tmp_path)
        (archive.root / archive.manifest().files("decisions")[0].file).unlink()
        tries: list[int] = []

        def read() -> dict:
            tries.append(1)
            return _report(archive, None, None)

        with pytest.raises(ArchiveDamagedError, match="is missing 1 file") as raised:
            read_through_commits(archive, read)
        assert isinstance(raised.value.__cause__, duckdb.IOException)  # DuckDB's words kept
        assert len(tries) == 1
