"""The archive with real files, a real redis-server and the real CLI: lossless, idempotent,
never torn; `callguard evidence` finds every decision exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from redis import asyncio as aioredis

from bench.synthetic_records import Factory, e164, number_hash
from callguard.compliance.archive.columns import DECISIONS, EVENTS, record_of, row_of
from callguard.compliance.archive.ingest import archive_files, archive_stream
from callguard.compliance.archive.store import Archive, connect, fetch_rows, union_view
from callguard.compliance.segments import stamp_name
from tests.conftest import ROOT
from tests.log_files import LATER, LEGACY, cli, config, synthetic, write_log
from tests.test_supervisor_page import browser  # noqa: F401 - the headless chromium


def _everything(archive: Archive) -> list[dict]:
    connection = connect()
    manifest = archive.manifest()
    return [record_of(table, row) for table in (DECISIONS, EVENTS)
            for row in fetch_rows(connection, union_view(archive, manifest, table, numbers=True),
                                     table)]


def _key(record: dict) -> str:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()


class TestLossless:
    """A record comes back from Parquet as it was written, every kind, legacy included."""

    def test_round_trip_through_parquet(self, tmp_path):
        lines = synthetic(3000, days=3) + LEGACY.read_bytes().splitlines(keepends=True)
        log = tmp_path / "compliance.jsonl"
        write_log(log, lines, closed=[(len(lines), False)])
        run = archive_files(Archive(tmp_path / "archive"), log, compact_before=LATER)
        assert run.decisions + run.events == len(lines)
        back = sorted(map(_key, _everything(Archive(tmp_path / "archive"))))
        assert back == sorted(_key(orjson.loads(line)) for line in lines)

    def test_promoted_fields_keep_their_exact_type(self):
        """A null, an int where a float is usual, a legacy instant: kept as written."""
        record = {"event": "line-release", "logged_at": "2026-01-05T10:00:00.123456Z",
                  "release_ms": 25, "within_limit": None, "decision_id": "not-a-uuid",
                  "number_hash": "ABC", "extra": {"x": [1, 2]}}
        table, row, _ = row_of(record)
        assert row["release_ms"] is None
        assert record_of(table, row) == record


class TestFilesArchive:
    """Closed segments of one node."""

    def test_archiving_twice_adds_nothing_and_compaction_dedups(self, tmp_path):
        log = tmp_path / "compliance.jsonl"
        lines = synthetic(2000, days=4)
        write_log(log, lines, closed=[(1000, False), (1000, True)])
        archive = Archive(tmp_path / "archive")
        first = archive_files(archive, log, compact_before=LATER)
        again = archive_files(archive, log, compact_before=LATER)
        assert first.segments == 2
        assert again.segments == 0
        assert all(p.compacted for p in archive.manifest().parts)
        assert len(_everything(archive)) == 2000
        # a day counts once, whether its decisions, its other records or both were
        # compacted (twice as many were said: decisions and events apart)
        days = {p.day for p in archive.manifest().parts}
        assert len(days) > 1
        assert (first.compacted_days, again.compacted_days) == (len(days), 0)

    def test_a_torn_record_never_enters_and_a_glued_one_is_recovered(self, tmp_path):
        """A writer killed mid-line: the fragment is skipped, the next record is whole."""
        lines = synthetic(300, days=1)
        torn = lines[100][: len(lines[100]) // 2]  # no newline: the next record follows it
        log = tmp_path / "compliance.jsonl"
        segment = [*lines[:100], torn + lines[101], *lines[102:200], b"{\"sch"]
        log.with_name(log.name + ".20260201T000000000000Z").write_bytes(b"".join(segment))
        archive = Archive(tmp_path / "archive")
        run = archive_files(archive, log, compact_before=LATER)
        assert run.torn == 2
        assert run.recovered == 1
        kept = sorted(map(_key, _everything(archive)))
        expected = [orjson.loads(line) for i, line in enumerate(lines[:200]) if i != 100]
        assert kept == sorted(map(_key, expected))


async def _node(tmp_path: Path, name: str, url: str, calls: list[str]) -> list[str]:
    """A real node process per call (`callguard check`), writing file and stream."""
    data = tmp_path / name
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data, node=name, extra="")
    text = path.read_text().replace("redis_stream = false", "redis_stream = true")
    text = text.replace('url = "redis://127.0.0.1:6379/0"', f'url = "{url}"')
    path.write_text(text)
    ids = []
    for number in calls:
        result = cli("check", number, "--campaign", "ut-solar-manual", "--at",
                     "2026-11-25T11:00:00-07:00", "--json", config_path=path)
        ids.append(json.loads(result.stdout)["decision_id"])
    return ids


async def _stream_with_taken(client, key: str, lines: list[bytes], consumer: str,
                             count: int):
    """``lines`` on the stream, the archivers' group made, and ``count`` entries delivered
    to ``consumer`` and never acknowledged (an archiver killed before its commit)."""
    for line in lines:
        await client.xadd(key, {"r": line.rstrip(b"\n")})
    await client.xgroup_create(key, "callguard-archive", id="0")
    return await client.xreadgroup("callguard-archive", consumer, {key: ">"}, count=count)


class TestStreamArchive:
    """Two nodes, one key, one stream, one archiver with a consumer group."""

    async def test_every_decision_of_both_nodes_found_once(self, tmp_path, redis_server):
        numbers = ["8015550123", "8015550124", "4355550142", "8015550199"]
        a = await _node(tmp_path, "node-a", redis_server.url, numbers[:3])
        b = await _node(tmp_path, "node-b", redis_server.url, numbers[1:])
        client = aioredis.from_url(redis_server.url)
        archive = Archive(tmp_path / "archive")
        try:
            first = await archive_stream(archive, client, "callguard:compliance",
                                         compact_before=LATER)
            # A crash after the commit, before XACK: the entries come again, and again.
            last = archive.manifest().stream["callguard:compliance"]
            await client.xgroup_setid("callguard:compliance", "callguard-archive", id="0")
            again = await archive_stream(archive, client, "callguard:compliance",
                                         compact_before=LATER)
            assert archive.manifest().stream["callguard:compliance"] == last
        finally:
            await client.aclose()
        assert first.decisions == 6
        assert again.decisions == 0
        path = config(tmp_path, tmp_path / "node-a", node="node-a")
        for number, nodes in (("8015550124", 2), ("4355550142", 2), ("8015550123", 1)):
            result = cli("evidence", number, "--format", "json", "--archive",
                         str(archive.root), "--file", str(tmp_path / "elsewhere.jsonl"),
                         config_path=path)
            assert result.returncode == 2  # --file names no log
            found = cli("evidence", number, "--format", "json", "--archive",
                        str(archive.root), config_path=path)
            assert found.returncode == 0, found.stderr
            document = json.loads(found.stdout)
            ids = [d["decision_id"] for d in document["decisions"]]
            assert len(ids) == len(set(ids))  # once each, though in file and archive
            assert set(ids) <= set(a) | set(b)
            assert len({d["node"] for d in document["decisions"]}) == nodes
            for decision in document["decisions"]:
                # Decisions name the packs that applied; the node's packs-loaded record,
                # written before it, names the rest (Florida's, out of a Utah call's scope).
                loaded = decision["packs_loaded"]
                assert loaded["node"] == decision["node"]
                assert loaded["logged_at"] <= decision["logged_at"]
                assert "us-fl" in [p[0] for p in loaded["packs"]]
                assert "us-fl" not in [p[0] for p in decision["packs"]]


class TestStreamTrimmed:
    """The stream's MAXLEN (or a purge) trims entries the archiver has not committed."""

    async def test_entries_trimmed_before_archiving_are_counted_and_said(self, tmp_path,
                                                                       redis_server):
        """Ten entries; a crashed archiver took three and never acknowledged them; then the
        stream is trimmed to its last two. The run archives the two and says eight were
        lost — three delivered but uncommitted, five never delivered (main: skipped them
        silently, both kinds)."""
        key = "callguard:compliance"
        lines = synthetic(10, days=1)[:10]
        client = aioredis.from_url(redis_server.url)
        archive = Archive(tmp_path / "archive")
        try:
            # this host's archiver took three, killed before XACK
            await _stream_with_taken(client, key, lines, socket.gethostname(), 3)
            await client.xtrim(key, maxlen=2, approximate=False)
            run = await archive_stream(archive, client, key, compact_before=LATER)
            assert run.stream_entries == 2
            assert run.stream_lost == 8
            assert any("8 stream entr" in note and "--file" in note for note in run.notes)
            again = await archive_stream(archive, client, key, compact_before=LATER)
            assert (again.stream_entries, again.stream_lost) == (0, 0)
        finally:
            await client.aclose()


    async def test_a_loss_redis_cannot_count_is_said_as_a_lower_bound(self, tmp_path,
                                                                      redis_server):
        """A first run on a stream its MAXLEN trimmed before any archiver read it: every
        entry gone is counted, exactly (main: Redis's lag, which then counts the trimmed
        entries as read, said 0). Then an XDEL past the group: Redis has no lag, so the
        run says "at least" and marks the figure a lower bound (main: "0 lost", said as
        exact, and no warning)."""
        key = "callguard:compliance"
        lines = synthetic(12, days=1)[:12]
        client = aioredis.from_url(redis_server.url)
        try:
            for line in lines[:10]:
                await client.xadd(key, {"r": line.rstrip(b"\n")})
            await client.xtrim(key, maxlen=5, approximate=False)  # before any archiver
            run = await archive_stream(Archive(tmp_path / "a"), client, key,
                                       compact_before=LATER)
            assert run.stream_entries == 5
            assert (run.stream_lost, run.stream_lost_is_lower_bound) == (5, False)
            assert any(note.startswith("5 stream entr") for note in run.notes), run.notes

            ids = [await client.xadd(key, {"r": line.rstrip(b"\n")}) for line in lines]
            await client.xtrim(key, maxlen=6, approximate=False)
            await client.xdel(key, ids[-2])
            run = await archive_stream(Archive(tmp_path / "a"), client, key,
                                       compact_before=LATER)
            assert run.stream_entries == 5
            assert (run.stream_lost, run.stream_lost_is_lower_bound) == (0, True)  # 6 gone
            assert any(note.startswith("at least 0 stream entr") and "maybe more" in note
                       for note in run.notes), run.notes
            again = await archive_stream(Archive(tmp_path / "a"), client, key,
                                         compact_before=LATER)
            assert (again.stream_lost, again.stream_lost_is_lower_bound) == (0, False)
        finally:
            await client.aclose()


class TestStreamEmptied:
    """Redis lost the stream (FLUSHALL, restarted without its AOF) between two runs."""

    async def test_a_stream_emptied_under_the_archiver_is_said(self, tmp_path, redis_server):
        """The group is gone with the stream: the archiver recreates it, archives what is
        there and says that entries written after its last run may be lost (main: went on
        silently)."""
        key = "callguard:compliance"
        lines = synthetic(10, days=1)[:6]
        client = aioredis.from_url(redis_server.url)
        archive = Archive(tmp_path / "archive")
        try:
            for line in lines[:3]:
                await client.xadd(key, {"r": line.rstrip(b"\n")})
            first = await archive_stream(archive, client, key, compact_before=LATER)
            assert (first.stream_entries, first.notes) == (3, [])
            await client.flushall()
            for line in lines[3:]:
                await client.xadd(key, {"r": line.rstrip(b"\n")})
            run = await archive_stream(archive, client, key, compact_before=LATER)
            assert run.stream_entries == 3
            assert any("group" in note and "--file" in note for note in run.notes), run.notes
        finally:
            await client.aclose()


class TestStreamOtherConsumers:
    """The group's pending entries of an archiver that is gone under another name."""

    async def test_an_archiver_under_a_new_hostname_takes_over_the_old_ones_entries(
            self, tmp_path, redis_server):
        """An archiver in a container took three entries and was killed before its commit;
        its successor runs under a new hostname (a recreated container). The three are
        claimed once idle long enough and archived, and the other consumer is named
        (main: they stayed pending for the old name forever, silently never archived)."""
        key = "callguard:compliance"
        lines = synthetic(10, days=1)[:5]
        client = aioredis.from_url(redis_server.url)
        archive = Archive(tmp_path / "archive")
        try:
            taken = await _stream_with_taken(client, key, lines, "old-container", 3)
            ids = [entry_id for entry_id, _ in taken[0][1]]
            fresh = await archive_stream(archive, client, key, compact_before=LATER)
            assert fresh.stream_entries == 2, "entries taken a moment ago are left alone"
            assert any("another archiver, 'old-container'" in note for note in fresh.notes)
            await client.xclaim(key, "callguard-archive", "old-container", 0, ids,
                                idle=3_600_000)  # an hour without an acknowledgement
            run = await archive_stream(archive, client, key, compact_before=LATER)
            assert run.stream_entries == 3
            assert any("old-container" in note for note in run.notes)
            pending = await client.xpending(key, "callguard-archive")
            assert pending["pending"] == 0
        finally:
            await client.aclose()


class TestEvidenceCli:
    """The real command over an archive and the unarchived rest of the log."""

    @pytest.fixture
    def archived(self, tmp_path):
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        factory = Factory(4000, days=8, pool=300)
        lines = list(factory.lines())
        write_log(log, lines, closed=[(2000, True), (1500, False)])
        path = config(tmp_path, data)
        result = cli("archive", "--compact-all", "--keep-segments-days", "-1", config_path=path)
        assert result.returncode == 0, result.stderr
        return path, [orjson.loads(line) for line in lines]

    @pytest.mark.parametrize("daily", [True, False], ids=["daily", "at-starts-only"])
    def test_each_decision_gets_its_nodes_latest_packs_loaded_before_it(self, tmp_path,
                                                                        daily):
        """Read from the decision's day and the day before (serve writes one each UTC
        day); a node that wrote one only at its starts is still told right: a decision
        days after a restart gets the restart's record, not the first start's."""
        data = tmp_path / "data"
        factory = Factory(3000, days=9, pool=600, packs_loaded=True)
        records = [orjson.loads(line) for line in factory.lines()]
        loaded = [r for r in records if r["event"] == "packs-loaded"]
        for index, record in enumerate(loaded):  # one version per day: which one is told
            record["packs"][0][1] = f"2026.{index}.0"
        number = e164(0)
        if not daily:
            # A restart on a day D with no call to the number on D or D + 1 and calls
            # before and after: the first such number of the pool.
            def restart(index: int) -> dict | None:
                days = sorted({r["logged_at"][:10] for r in records
                               if r["event"] == "decision"
                               and r["number_hash"] == number_hash(e164(index))})
                return next((r for r in loaded[1:] if days and days[0] < r["logged_at"][:10]
                             < days[-1] and not any(0 <= (date.fromisoformat(d) - (
                                 date.fromisoformat(r["logged_at"][:10]))).days <= 1
                                 for d in days)), None)
            index = next(i for i in range(600) if restart(i) is not None)
            number, pick = e164(index), restart(index)
            assert pick is not None
            loaded = [loaded[0], pick]
            records = [r for r in records if r["event"] != "packs-loaded"
                       or any(r is x for x in loaded)]
        lines = [orjson.dumps(r) + b"\n" for r in records]
        write_log(data / "compliance.jsonl", lines, closed=[(len(lines) - 40, True)])
        path = config(tmp_path, data)
        result = cli("archive", "--compact-all", "--keep-segments-days", "-1", config_path=path)
        assert result.returncode == 0, result.stderr
        found = cli("evidence", number, "--format", "json", config_path=path)
        assert found.returncode == 0, found.stderr
        decisions = json.loads(found.stdout)["decisions"]
        assert len({d["logged_at"][:10] for d in decisions}) > 2  # several days
        assert len(decisions) == sum(r["event"] == "decision"
                                     and r["number_hash"] == number_hash(number)
                                     for r in records)
        told = set()
        for decision in decisions:
            latest = max((r for r in loaded if r["logged_at"] <= decision["logged_at"]),
                         key=lambda r: r["logged_at"])
            assert decision["packs_loaded"] == latest
            told.add(latest["logged_at"])
        assert len(told) > 1  # more than one record was the latest for some decision

    def test_evidence_is_archive_plus_live_exactly(self, archived):
        path, records = archived
        hashed = number_hash(e164(7))
        result = cli("evidence", e164(7), "--format", "json", config_path=path)
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        expected = [r for r in records if r["event"] == "decision"
                    and r["number_hash"] == hashed]
        assert len(expected) > 3
        attached = ("later_records", "records_in_force", "packs_loaded")
        got = [{k: v for k, v in d.items() if k not in attached} for d in document["decisions"]]
        assert got == expected
        ids = {r["decision_id"] for r in expected}
        later = [r for r in records if r["event"] != "decision" and r.get("decision_id") in ids]
        assert sorted(map(_key, (x for d in document["decisions"]
                                 for x in d["later_records"]))) == sorted(map(_key, later))
        one = expected[-1]  # the newest: still in the current file, not archived
        by_id = cli("evidence", "--decision", one["decision_id"], "--format", "json",
                    config_path=path)
        (decision,) = json.loads(by_id.stdout)["decisions"]
        assert {k: v for k, v in decision.items()
                if k not in ("later_records", "records_in_force", "packs_loaded")} == one
        # The same ids typed in capitals or without hyphens name the same decisions, in
        # the archive (the oldest) and in the current file (the newest).
        for wanted in (expected[0], one):
            typed = wanted["decision_id"].upper().replace("-", "")
            again = cli("evidence", "--decision", typed, "--format", "json",
                        config_path=path)
            assert again.returncode == 0, again.stderr
            (found,) = json.loads(again.stdout)["decisions"]
            assert found["decision_id"] == wanted["decision_id"]

    def test_formats_and_honest_key(self, archived, tmp_path):
        path, _ = archived
        page = tmp_path / "evidence.html"
        html = cli("evidence", e164(7), "--format", "html", "--output", str(page),
                   config_path=path)
        assert html.returncode == 0
        text = page.read_text()
        assert "<table>" in text
        # what was written is said (it was silent), and where
        assert f"wrote {page} (html: " in " ".join(html.stderr.split()), html.stderr
        assert text.count("<tr") > 1
        assert e164(7)[2:] not in text  # never the number in clear
        csv_out = cli("evidence", e164(7), "--format", "csv", config_path=path)
        assert csv_out.stdout.startswith("logged_at,event,at,decision_id")
        wrong = cli("evidence", e164(7), config_path=path, key="cd" * 32)
        assert wrong.returncode == 1
        assert "other keys" in wrong.stderr
        nokey = cli("evidence", e164(7), config_path=path, key=None)
        assert nokey.returncode == 2
        assert not (path.parent / "data" / "log.key").exists()

    def test_report_reads_archive_and_live(self, archived, tmp_path):
        path, records = archived
        page = tmp_path / "report.html"
        result = cli("report", "--json", "--html", str(page), "--tz", "America/Denver",
                     config_path=path)
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout)
        decisions = [r for r in records if r["event"] == "decision"]
        assert figures["decisions"] == len(decisions)
        assert figures["scrubs"] == sum(r["front"] == "scrub" for r in decisions)
        assert figures["by_verdict"]["BLOCK"] == sum(
            r["verdict"] == "BLOCK" and r["front"] != "scrub" for r in decisions)
        releases = [r["release_ms"] for r in records if r["event"] == "line-release"
                    and r.get("release_ms") is not None]
        top = max(v["max_ms"] for v in figures["line_release"].values())
        assert top == max(releases)
        # The 30-day abandonment window in the zone asked for (it was given as UTC dates).
        dated = cli("report", "--json", "--tz", "America/Denver", "--until", "2026-01-14",
                    config_path=path)
        assert dated.returncode == 0, dated.stderr
        windows = [f["window"] for f in json.loads(dated.stdout)["abandonment_30d"].values()]
        assert windows
        for window in windows:
            assert re.fullmatch(r"2025-12-1\dT\d\d:\d\d-07:00 to 2026-01-1\dT\d\d:\d\d-07:00",
                                window), window
        text = page.read_text()
        assert "America/Denver" in text
        assert text.count("<table>") >= 4
        unknown = cli("report", "--campaign", "nope", config_path=path)
        assert unknown.returncode == 2
        assert "ut-solar-manual" in unknown.stderr


def _open_evidence_page(tmp_path, path, number, browser) -> list[str]:  # noqa: F811
    """`evidence NUMBER --format html` written and opened in the browser; its headings."""
    page = tmp_path / "evidence.html"
    made = cli("evidence", number, "--format", "html", "--output", str(page),
               config_path=path)
    assert made.returncode == 0, made.stderr
    browser.get(page.as_uri())
    return [h.text for h in browser.find_elements("css selector", "h2")]


def test_evidence_shows_the_packs_loaded_apart_from_the_calls_records(tmp_path,
                                                                        browser):  # noqa: F811
    """The node's packs-loaded record before a decision is not a 'later record of the
    call' with an empty detail (the page and the text listed it so): the page has it in
    its own table naming every loaded pack (Florida's too, out of a Utah call's scope),
    and the text's row names them. Read from a real headless chromium."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    number = "8015550123"
    asked = cli("check", number, "--campaign", "ut-solar-manual", "--at",
                datetime.now(UTC).isoformat(timespec="seconds"), config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    titles = _open_evidence_page(tmp_path, path, number, browser)
    assert "Later records of these calls (0)" in titles, titles
    loaded = next(t for t in titles if t.startswith("Packs loaded"))
    assert loaded.endswith("(1)"), titles
    tables = browser.find_elements("css selector", "table")
    packs_table = tables[titles.index(loaded)]
    assert "us-fl " in packs_table.text
    assert "us-ut " in packs_table.text
    text = cli("evidence", number, config_path=path)
    assert text.returncode == 0, text.stderr
    (row,) = [line for line in text.stdout.splitlines() if "packs-loaded" in line]
    assert "us-fl " in row, text.stdout
    # the head counts each kind as the page does ("1 other record(s)" was the packs-loaded)
    head = " ".join(text.stdout.split())
    assert head.startswith("number …0123 (key "), head
    assert ("): 1 decision(s), 0 record change(s), 0 later record(s) of these calls, "
            "1 record(s) of the packs loaded;") in head, head
    # an empty table says "none" (as the report's do), and no instant folds at a hyphen
    empty = tables[titles.index("Later records of these calls (0)")]
    assert empty.find_element("css selector", "tbody td").text == "none"
    stamp = tables[0].find_element("css selector", "tbody td")
    assert stamp.value_of_css_property("white-space") == "nowrap"


def test_evidence_shows_a_record_change_field_by_field(tmp_path, browser):  # noqa: F811
    """What a record change changed is read by counsel: the page lists it a field a line
    (``kind: written``), not as the record's raw JSON; the text joins the fields with ';'
    and the CSV keeps JSON for machines. Read from a real headless chromium."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    number = "8015550123"
    added = cli("consent", "add", number, "--campaign", "ut-solar-manual", "--kind",
                "written", "--source", "web-form", config_path=path)
    assert added.returncode == 0, added.stderr
    titles = _open_evidence_page(tmp_path, path, number, browser)
    changes = next(t for t in titles if t.startswith("Record changes"))
    assert changes.endswith("(1)"), titles
    table = browser.find_elements("css selector", "table")[titles.index(changes)]
    cells = table.find_elements("css selector", "tbody td")
    lines = cells[-1].text.splitlines()
    assert "kind: written" in lines, lines
    assert "source: web-form" in lines, lines
    assert "{" not in cells[-1].text
    text = cli("evidence", number, config_path=path)
    assert text.returncode == 0, text.stderr
    assert "kind: written;" in " ".join(text.stdout.split()), text.stdout
    as_csv = cli("evidence", number, "--format", "csv", config_path=path)
    assert '""kind"":""written""' in as_csv.stdout, as_csv.stdout


def test_archive_command_never_touches_the_writers_lock(tmp_path):
    """The writers' lock held by someone else does not stop the archiver."""
    import fcntl

    data = tmp_path / "data"
    log = data / "compliance.jsonl"
    write_log(log, synthetic(500, days=2), closed=[(300, False)])
    lock = os.open(data / "compliance.jsonl.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        result = cli("archive", "--json", config_path=config(tmp_path, data), timeout=60)
    finally:
        os.close(lock)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["segments"] == 1


def test_a_node_killed_mid_write_leaves_no_torn_record(tmp_path):
    """A real process appending records is SIGKILLed; the archive holds whole records
    only, and every complete line of the file."""
    data = tmp_path / "data"
    log = data / "compliance.jsonl"
    log.parent.mkdir(parents=True)
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, os; sys.path.insert(0, '.')\n"
        "from bench.synthetic_records import Factory\n"
        f"fd = os.open({str(log)!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)\n"
        "for line in Factory(10**6, days=30).lines():\n"
        "    half = len(line) // 2\n"
        "    os.write(fd, line[:half]); os.write(fd, line[half:])\n")], cwd=ROOT)
    time.sleep(3)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    data_bytes = log.read_bytes()
    os.replace(log, log.with_name(log.name + ".20260301T000000000000Z"))
    complete = [line for line in data_bytes.split(b"\n")[:-1] if line]
    archive = Archive(data / "archive")
    run = archive_files(archive, log, compact_before=LATER)
    assert run.decisions + run.events == len(complete) > 100
    assert sorted(map(_key, _everything(archive))) == sorted(
        _key(orjson.loads(line)) for line in complete)
    assert run.torn == (0 if data_bytes.endswith(b"\n") else 1)



def test_purge_deletes_whole_archive_days_past_retention(tmp_path):
    """Days before the cutoff's day go; the cutoff's day and later stay; a purge record."""
    from datetime import UTC, datetime, timedelta

    data = tmp_path / "data"
    log = data / "compliance.jsonl"
    start = (datetime.now(UTC) - timedelta(days=1835)).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    lines = synthetic(3000, start=start, days=10)
    write_log(log, lines, closed=[(len(lines), False)])
    path = config(tmp_path, data)
    assert cli("archive", "--compact-all", "--keep-segments-days", "-1",
               config_path=path).returncode == 0
    cutoff = (datetime.now(UTC) - timedelta(days=1830)).date().isoformat()
    before = Archive(data / "archive").manifest()

    def days(manifest):  # every day held, month files' days too (``Part.held``)
        return {day for part in manifest.parts for day in part.held()}

    # By the days the files hold, not their first days: on some dates the cutoff falls
    # inside a month file, which purge splits, keeping its later days as day files (a
    # first-day count read those as days that appeared).
    due = {day for day in days(before) if day < cutoff}
    assert due
    result = cli("purge", "--yes", "--json", config_path=path)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["archive"]["days_deleted"] == len(due)
    after = Archive(data / "archive").manifest()
    assert days(after) == days(before) - due
    assert all((data / "archive" / p.file).exists() for p in after.parts)
    assert not any((data / "archive" / p.file).exists() for p in before.parts
                   if p.day < cutoff)


def test_packs_loaded_days_are_read_as_spans_and_many_as_one_range(monkeypatch):
    """Each decision's day and the day before, adjacent days merged; a number called on
    more than _MAX_SPANS separate days is read as one range (one scan, not hundreds)."""
    from datetime import timedelta

    from callguard.compliance.archive import evidence

    calls: list[tuple[date, date]] = []

    def view(archive, manifest, table, *, first, last):
        calls.append((first, last))
        return "SELECT 1"

    monkeypatch.setattr(evidence, "union_view", view)
    start = date(2026, 1, 10)
    evidence._days_view(None, None, [start, start + timedelta(days=1), start + timedelta(days=5)])
    assert calls == [(date(2026, 1, 9), date(2026, 1, 11)),
                     (date(2026, 1, 14), date(2026, 1, 15))]
    calls.clear()
    many = [start + timedelta(days=3 * i) for i in range(evidence._MAX_SPANS + 1)]
    evidence._days_view(None, None, many)
    assert calls == [(start - timedelta(days=1), many[-1])]


def test_explain_finds_a_decision_whose_segment_is_only_in_the_archive(tmp_path):
    """Segments are deleted --keep-segments-days after archiving; the archive keeps the
    records five years. `explain ID` read only the log and said "not found" (exit 1)
    for every decision older than that; it reads the archive too."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    asked = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--json", "--at",
                datetime.now(UTC).isoformat(timespec="seconds"), config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    decision_id = json.loads(asked.stdout)["decision_id"]
    log = data / "compliance.jsonl"
    log.rename(stamp_name(log, datetime.now(UTC)))  # closed, as the writer rotates it
    archived = cli("archive", "--compact-all", "--keep-segments-days", "0", "--json",
                   config_path=path)
    assert archived.returncode == 0, archived.stderr
    assert not list(data.glob("compliance.jsonl*Z*")), list(data.iterdir())
    shown = cli("explain", decision_id, "--json", config_path=path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert json.loads(shown.stdout)["decision_id"] == decision_id
    missing = cli("explain", "01a2415c-0000-7000-8000-000000000000", config_path=path)
    assert missing.returncode == 1
    assert "archive" in missing.stderr
