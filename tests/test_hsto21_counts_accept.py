"""Call-frequency counts refused as older than this node's mark (a Redis restored from an
older backup): ``callguard records-accept-older`` accepts them, recorded in the compliance
log before the mark moves, and a running node serves again without a restart (helper
hsto21). Before: the command covered only the record store ("not behind"), the operator
deleted ``frequency-redis-high-water.json`` by hand and restarted the node, and nothing
said in the log that the calls of the lost period went uncounted. A real redis-server, a
real CLI process on the node's data dir."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest
from jsonschema import Draft202012Validator

from callguard.errors import StoreError
from callguard.stores.redis.frequency import HIGH_WATER_FILE, RedisFrequency
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE
from tests.conftest import ROOT
from tests.redis_restore import dump_all, restore_all
from tests.serve_node import ServeNode
from tests.test_frequency import CLAIM, HASH, NOON, aioredis_client

NUMBER, OTHER = "+13055550177", "+13055550178"


def _running(url: str, node: ServeNode) -> tuple[RedisRecords, RedisFrequency]:
    """The counts of a node on ``node``'s data dir, wired as ``open_frequency`` wires them."""
    records = RedisRecords(aioredis_client(url), RecordsSettings(),
                           remember=node.data / MARKER_FILE)
    store = RedisFrequency(aioredis_client(url), HASH, retention_s=2 * 86_400,
                           refusing=lambda: records.refusing_counts, guard=records)
    return records, store


def _events(node: ServeNode, name: str) -> list[dict]:
    path = node.data / "compliance.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [e for e in map(json.loads, lines) if e.get("event") == name]


def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads(
        (ROOT / "callguard/data/schemas/frequency-older-accepted.json").read_text()))


async def test_accept_older_covers_the_counts_and_a_running_node_serves_again(
        tmp_path, redis_server):
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    admin = aioredis_client(redis_server.url)
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        for _ in range(2):
            assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        backup = await dump_all(admin)
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        await asyncio.sleep(1.5)  # the mark is saved within a second
        assert (node.data / HIGH_WATER_FILE).exists()
        await restore_all(admin, backup)
        with pytest.raises(StoreError, match="older"):
            await store.reserve(OTHER, [CLAIM], NOON)
        assert store.behind is not None
        assert "records-accept-older" in store.behind  # the way out it names

        accepted = await asyncio.to_thread(node.cli, "records-accept-older", "--reason",
                                           "restored the nightly backup")
        assert accepted.returncode == 0, accepted.stderr
        assert "call-frequency counts' mark" in accepted.stdout, accepted.stdout
        record = _events(node, "frequency-older-accepted")
        assert len(record) == 1, accepted.stdout  # before: none, "not behind"
        _schema().validate(record[0])
        on_server = int(await admin.get("callguard:freq-seq"))
        # the group that found it behind ran there: the counter is back at the mark
        assert record[0]["store_mark"] == on_server <= record[0]["node_mark"]
        assert record[0]["reason"] == "restored the nightly backup"
        assert not _events(node, "records-older-accepted")  # the records were not behind

        # the running node (not restarted): ready again, and counting on the server
        assert store.behind is None
        assert (await store.reserve(OTHER, [CLAIM], NOON)).granted
        # run again: nothing more to accept, nothing more recorded
        again = await asyncio.to_thread(node.cli, "records-accept-older", "--reason", "x")
        assert again.returncode == 0, again.stderr
        assert "not behind" in again.stdout
        assert len(_events(node, "frequency-older-accepted")) == 1
    finally:
        await store.aclose()
        await records.aclose()
    # a node started on the data dir afterwards is not refused either
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert (await store.reserve("+13055550179", [CLAIM], NOON)).granted
        assert store.behind is None
    finally:
        await store.aclose()
        await records.aclose()
        await admin.aclose()


async def test_a_damaged_counts_mark_is_accepted_by_the_command_it_names(
        tmp_path, redis_server):
    """A damaged mark file refuses the counts (fail closed); its message names the
    command, and the command replaces it, recording node_mark "damaged"."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
    finally:
        await store.aclose()
        await records.aclose()
    (node.data / HIGH_WATER_FILE).write_text("{")
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        with pytest.raises(StoreError, match="records-accept-older"):
            await store.reserve(NUMBER, [CLAIM], NOON)
        assert store.behind is not None  # /readyz: not ready (before: ready)
        accepted = await asyncio.to_thread(node.cli, "records-accept-older", "--reason",
                                           "mark file damaged")
        assert accepted.returncode == 0, accepted.stderr
        record = _events(node, "frequency-older-accepted")
        assert [r["node_mark"] for r in record] == ["damaged"]
        _schema().validate(record[0])
        assert orjson.loads((node.data / HIGH_WATER_FILE).read_bytes())["seq"] == 1
        assert store.behind is None  # the running node adopted the acceptance
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).counts == (1,)
    finally:
        await store.aclose()
        await records.aclose()


async def test_a_restart_does_not_accept_counts_a_node_found_behind(tmp_path, redis_server):
    """Fla. Stat. 501.616(6)(b), three calls in 24 hours: node A counted three calls to a
    number, Redis came back on a backup holding none of them (a replica promoted behind),
    A refused it. Groups run since — A's own that found it behind, another node's (a node
    added after the restore) — bring the server's counter back past A's mark. A restarted
    on its data dir: its calls must still be refused, the three lost calls not silently
    forgotten. Before: the restarted node served, and granted a fourth call of the day."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    admin = aioredis_client(redis_server.url)
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert (await store.reserve(OTHER, [CLAIM], NOON)).granted
        backup = await dump_all(admin)
        for _ in range(3):
            assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        await asyncio.sleep(1.5)  # the mark is saved within a second
        await restore_all(admin, backup)
        with pytest.raises(StoreError, match="older"):
            await store.reserve("+13055550190", [CLAIM], NOON)
    finally:
        await store.aclose()
        await records.aclose()
    added = ServeNode(tmp_path / "added", redis_url=redis_server.url, redis_records=True)
    records, store = _running(redis_server.url, added)
    try:
        await records.start()
        for n in range(4):
            assert (await store.reserve(f"+1305555020{n}", [CLAIM], NOON)).granted
    finally:
        await store.aclose()
        await records.aclose()
    mark = orjson.loads((node.data / HIGH_WATER_FILE).read_bytes())
    assert int(await admin.get("callguard:freq-seq")) > mark["seq"]

    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert store.behind is not None  # /readyz: not ready, from the start
        with pytest.raises(StoreError, match="older"):
            await store.reserve(NUMBER, [CLAIM], NOON)  # before: granted, a fourth call
    finally:
        await store.aclose()
        await records.aclose()
        await admin.aclose()
