"""The number table (archive format 2): lossless, readable beside the old layout,
purged with the days, and looked up by id; the stream's unarchived entries in evidence.
"""

from __future__ import annotations

import json
import uuid
from datetime import date

import orjson
import pytest
from redis import asyncio as aioredis

from bench.bench_archive_numbers import old_layout
from bench.synthetic_records import Factory, e164, number_hash
from callguard.compliance.archive.columns import DECISIONS, EVENTS, record_of
from callguard.compliance.archive.evidence import LiveLines, gather, stream_tail
from callguard.compliance.archive.ingest import archive_files, archive_stream
from callguard.compliance.archive.store import (
    HASHED,
    NUMBERED,
    VERSION,
    Archive,
    ArchiveFormatError,
    connect,
    fetch_rows,
    union_view,
)
from tests.log_files import LATER, NEVER, cli, config, write_log
from tests.test_archive import _node


def _everything(archive: Archive) -> list[dict]:
    connection = connect()
    manifest = archive.manifest()
    return [record_of(table, row) for table in (DECISIONS, EVENTS)
            for row in fetch_rows(connection, union_view(archive, manifest, table,
                                                         numbers=True), table)]


def _keys(records: list[dict]) -> list[str]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS).decode() for r in records)


def _odd_ids(lines: list[bytes]) -> list[bytes]:
    """Decisions whose id is not a UUIDv7 of their ``at`` millisecond: kept whole."""
    out = []
    for i, line in enumerate(lines):
        record = orjson.loads(line)
        if record["event"] == "decision" and i % 7 == 0:
            record["decision_id"] = str(uuid.UUID(int=uuid.uuid4().int))
        elif record["event"] == "decision" and i % 7 == 1:
            head = int(record["decision_id"].replace("-", "")[:12], 16) + 1
            record["decision_id"] = str(uuid.UUID(f"{head:012x}"
                                                  + record["decision_id"].replace("-", "")[12:]))
        out.append(orjson.dumps(record) + b"\n")
    return out


def _kind(decision: dict) -> str:
    """How the archive stores this decision's id."""
    text = decision["decision_id"].replace("-", "")
    if text[12] != "7":
        return "not v7"
    at = orjson.loads(orjson.dumps(decision["at"]))
    from datetime import datetime

    millis = int(datetime.fromisoformat(at).timestamp() * 1000)
    return "tail" if int(text[:12], 16) == millis else "other millisecond"


class TestNumberTable:
    def test_compacted_days_hold_ids_and_every_record_comes_back(self, tmp_path):
        lines = _odd_ids(list(Factory(3000, days=5, pool=400).lines()))
        log = tmp_path / "compliance.jsonl"
        write_log(log, lines, closed=[(1500, False), (len(lines) - 1500, True)])
        archive = Archive(tmp_path / "archive")
        archive_files(archive, log, compact_before=LATER)
        manifest = archive.manifest()
        decisions = manifest.files("decisions")
        assert decisions
        assert all(p.layout == NUMBERED and p.compacted for p in decisions)
        assert _keys(_everything(archive)) == _keys([orjson.loads(x) for x in lines])
        connection = connect()
        files = [str(archive.root / p.file) for p in decisions]
        columns = {c for (c,) in connection.execute(
            f"SELECT name FROM parquet_schema({files})").fetchall()}
        assert "number_id" in columns
        assert "number_hash" not in columns
        tails, whole = connection.execute(
            f"SELECT count(decision_tail), count(decision_id) FROM read_parquet({files})"
        ).fetchone()
        assert tails > 1000  # most ids are their at's UUIDv7: the tail alone
        assert whole > 100  # the others whole
        # one id per distinct number, shared by its days
        table = [str(archive.root / n.file) for n in manifest.numbers]
        assert connection.execute(f"SELECT count(*) = count(DISTINCT number_hash) AND "
                                  f"count(*) = count(DISTINCT number_id) FROM "
                                  f"read_parquet({table})").fetchone()[0]

    def test_lookup_by_number_and_by_decision_id(self, tmp_path):
        lines = _odd_ids(list(Factory(2000, days=4, pool=200).lines()))
        log = tmp_path / "compliance.jsonl"
        write_log(log, lines, closed=[(len(lines), False)])
        archive = Archive(tmp_path / "archive")
        archive_files(archive, log, compact_before=LATER)
        records = [orjson.loads(x) for x in lines]
        hashed = number_hash(e164(5))
        found = gather(archive, LiveLines(), number_hash=hashed)
        assert [d["decision_id"] for d in found.decisions] == [
            r["decision_id"] for r in records
            if r["event"] == "decision" and r["number_hash"] == hashed]
        assert found.decisions
        decisions = [r for r in records if r["event"] == "decision"]
        kinds = {_kind(r): r for r in decisions}
        assert set(kinds) == {"tail", "other millisecond", "not v7"}
        for wanted in kinds.values():
            (one,) = gather(archive, LiveLines(), decision_id=wanted["decision_id"]).decisions
            assert one == wanted

    def test_an_old_layout_archive_stays_readable_and_grows_in_the_new(self, tmp_path):
        lines = list(Factory(3000, days=6, pool=300).lines())
        log = tmp_path / "compliance.jsonl"
        write_log(log, lines[:2000], closed=[(2000, False)])
        archive = Archive(tmp_path / "archive")
        archive_files(archive, log, compact_before=NEVER)
        old_layout(archive)
        old = archive.manifest()
        assert old.numbers == []
        assert all(p.layout == HASHED and p.compacted for p in old.parts)
        assert _keys(_everything(archive)) == _keys([orjson.loads(x) for x in lines[:2000]])
        hashed = number_hash(e164(3))
        expected = [orjson.loads(x) for x in lines[:2000]]
        expected = [r for r in expected if r["event"] == "decision"
                    and r["number_hash"] == hashed]
        assert expected
        assert gather(archive, LiveLines(), number_hash=hashed).decisions == expected
        # New records, some on a day the old layout compacted: that day is rewritten in
        # layout 2; days without new records stay as they were, and all is read together.
        write_log(log, lines, closed=[(2000, False), (len(lines) - 2000, False)])
        archive_files(archive, log, compact_before=LATER)
        new = archive.manifest()
        layouts = {p.layout for p in new.files("decisions")}
        assert layouts == {HASHED, NUMBERED}
        assert _keys(_everything(archive)) == _keys([orjson.loads(x) for x in lines])
        expected = [r for r in map(orjson.loads, lines) if r["event"] == "decision"
                    and r["number_hash"] == hashed]
        assert gather(archive, LiveLines(), number_hash=hashed).decisions == expected
        assert json.loads(archive.manifest_path.read_bytes())["version"] == 2

    def test_a_newer_format_is_refused(self, tmp_path):
        data = tmp_path / "data"
        archive = Archive(data / "archive")
        archive.root.mkdir(parents=True)
        archive.manifest_path.write_bytes(orjson.dumps({"version": VERSION + 1, "parts": []}))
        with pytest.raises(ArchiveFormatError, match="newer"):
            archive.manifest()
        result = cli("evidence", e164(1), config_path=config(tmp_path, data))
        assert result.returncode == 2
        assert "upgrade callguard" in result.stderr

    def test_purge_drops_the_numbers_only_purged_days_used(self, tmp_path):
        lines = list(Factory(4000, days=8, pool=600).lines())
        log = tmp_path / "compliance.jsonl"
        write_log(log, lines, closed=[(len(lines), False)])
        archive = Archive(tmp_path / "archive")
        archive_files(archive, log, compact_before=LATER)
        before = archive.manifest()
        cutoff = sorted(before.days())[4]
        archive.drop_days_before(date.fromisoformat(cutoff))
        after = archive.manifest()
        assert all(not (archive.root / n.file).exists() for n in before.numbers
                   if n not in after.numbers)
        kept = [orjson.loads(x) for x in lines]
        kept = [r for r in kept if r["logged_at"][:10] >= cutoff]
        assert _keys(_everything(archive)) == _keys(kept)
        connection = connect()
        table = [str(archive.root / n.file) for n in after.numbers]
        stored = {bytes(h).hex() for (h,) in connection.execute(
            f"SELECT number_hash FROM read_parquet({table})").fetchall()}
        assert stored == {r["number_hash"] for r in kept if r["event"] == "decision"}
        every = {r["number_hash"] for r in map(orjson.loads, lines) if r["event"] == "decision"}
        assert every - stored  # some numbers were called only on the purged days


class TestStreamInEvidence:
    async def test_evidence_includes_the_streams_unarchived_entries(self, tmp_path,
                                                                    redis_server):
        number = "8015550124"
        a = await _node(tmp_path, "node-a", redis_server.url, [number])
        client = aioredis.from_url(redis_server.url)
        archive = Archive(tmp_path / "archive")
        try:
            await archive_stream(archive, client, "callguard:compliance",
                                 compact_before=LATER)
        finally:
            await client.aclose()
        b = await _node(tmp_path, "node-b", redis_server.url, [number])  # stream only
        path = tmp_path / "node-a.toml"  # node-a, the stream on
        found = cli("evidence", number, "--format", "json", "--archive", str(archive.root),
                    config_path=path)
        assert found.returncode == 0, found.stderr
        ids = [d["decision_id"] for d in json.loads(found.stdout)["decisions"]]
        assert sorted(ids) == sorted(a + b)
        # Redis unreachable: the answer says it is incomplete (exit 1), never silently.
        path.write_text(path.read_text().replace(redis_server.url, "redis://127.0.0.1:9/0"))
        down = cli("evidence", number, "--format", "json", "--archive", str(archive.root),
                   config_path=path)
        assert down.returncode == 1
        assert "could not be read" in down.stderr
        assert [d["decision_id"] for d in json.loads(down.stdout)["decisions"]] == a

    def test_stream_tail_reads_after_the_position_batch_by_batch(self, redis_server):
        import redis

        client = redis.Redis.from_url(redis_server.url)
        try:
            ids = [client.xadd("k", {"r": f"line {i}".encode()}).decode() for i in range(25)]
            assert list(stream_tail(client, "k", "0-0", batch=10)) == [
                f"line {i}".encode() for i in range(25)]
            assert list(stream_tail(client, "k", ids[11], batch=10)) == [
                f"line {i}".encode() for i in range(12, 25)]
            assert list(stream_tail(client, "k", ids[-1], batch=10)) == []
        finally:
            client.close()
