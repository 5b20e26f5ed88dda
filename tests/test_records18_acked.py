"""``durability = "replicas"`` and writes that were never acknowledged (high_water.py's
acknowledged counter), on a real redis-server with a real replica: a node that READ a write
whose WAIT failed raised its mark to it; a failover losing that write, then another writer
reusing the counter value (another id), left the node refusing the new primary for good —
every call BLOCKed until ``records-accept-older`` on each data dir — over a write that was
never promised. Marks now rise only to what was acknowledged as durable; a restore losing
acknowledged writes is still refused.

A failover here is the promoted replica's keys put back on the primary (DUMP/RESTORE of
what the primary held before the unacknowledged write): the nodes keep their connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from redis import asyncio as aioredis

from callguard.cli.records_restore import _accept
from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.runtime import open_runtime
from callguard.stores.redis.high_water import ACKED_KEY, HIGH_WATER_FILE, IDS_KEY, SEQ_KEY
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from tests.redis_restore import LOST, SELLER, dump_all, records_store, restore_all, write_each
from tests.redis_server import RedisServer

# A shared 2-core machine can delay the replica's ACK past the default 500 ms.
ACKED = RecordsSettings(durability="replicas", wait_timeout_ms=5000)
# Two replicas asked, one attached: WAIT returns 1, the write is not acknowledged.
UNACKED = RecordsSettings(durability="replicas", wait_replicas=2, wait_timeout_ms=20,
                          on_weak_durability="warn")


def _store(url: str, data: Path, settings: RecordsSettings = ACKED) -> RedisRecords:
    return records_store(url, data, settings, timeout=8)


async def _write(url: str, data: Path, number: str,
                 settings: RecordsSettings = ACKED) -> None:
    """A writer on its own data dir (another node, the nightly import): one batch."""
    await write_each(url, data, number, settings=settings, timeout=8)


@pytest.fixture
async def replicated(tmp_path, redis_server) -> AsyncIterator[aioredis.Redis]:
    """A real replica attached to ``redis_server`` (WAIT 1 succeeds); the primary's client."""
    replica = RedisServer(tmp_path / "replica")
    replica.data_dir.mkdir()
    replica.start()
    client = aioredis.from_url(replica.url)
    primary = aioredis.from_url(redis_server.url)
    try:
        await client.execute_command("REPLICAOF", "127.0.0.1", str(redis_server.port))
        for _ in range(200):  # online on the primary AND the link up on the replica
            info = await primary.info("replication")
            link = await client.info("replication")
            if (info.get("slave0", {}).get("state") == "online"
                    and link.get("master_link_status") == "up"):
                break
            await asyncio.sleep(0.05)
        yield primary
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()
        await primary.aclose()
        replica.kill()  # a replica's SIGTERM shutdown can wait on its link; not under test


async def test_a_node_that_read_an_unacknowledged_write_survives_its_loss(
        tmp_path, redis_server, replicated):
    """Writer W's batch is not acknowledged (WAIT short of replicas); node B reads it
    meanwhile; the failover loses it; the import then writes that counter value anew
    (another id). main: B's mark had risen to the lost value, its id was now another's —
    B refused the new primary (every call BLOCKed) until ``records-accept-older``."""
    admin = replicated
    await _write(redis_server.url, tmp_path / "cron", "+18015550170")
    node = _store(redis_server.url, tmp_path / "b")
    await node.start()
    try:
        assert await node.company_dnc(SELLER, "+18015550170") is not None
        acked_mark = node._high.known
        replica = await dump_all(admin)  # what the promoted replica will hold
        with pytest.raises(StoreError, match="not acknowledged as durable"):
            await _write(redis_server.url, tmp_path / "w", LOST, UNACKED)
        assert int(await admin.get(SEQ_KEY)) == acked_mark + 1
        assert await node.company_dnc(SELLER, LOST) is not None  # read from the old primary
        assert node._high.known == acked_mark  # not raised past what was acknowledged
        await restore_all(admin, replica)  # the failover: the unacknowledged write is gone
        await _write(redis_server.url, tmp_path / "cron", "+18015550172")  # reuses the value
        assert await node.company_dnc(SELLER, "+18015550172") is not None
        assert node.behind is None
        assert node.went_back == 0
        assert node._high.known == acked_mark + 1  # the acknowledged one: raised
    finally:
        await node.aclose()


async def test_a_restore_losing_acknowledged_writes_is_still_refused(
        tmp_path, redis_server, replicated):
    """Under ``durability = "replicas"``, writes WAIT acknowledged raise the marks of the
    nodes that read them: a store restored from a backup before them is refused, also once
    another writer has written past the mark (another id for it)."""
    admin = replicated
    await _write(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = _store(redis_server.url, tmp_path / "b")
    await node.start()
    try:
        await _write(redis_server.url, tmp_path / "w", LOST)  # acknowledged
        assert await node.company_dnc(SELLER, LOST) is not None
        assert node._high.known == int(await admin.get(SEQ_KEY))
        assert int(await admin.get(ACKED_KEY)) == node._high.known
        await restore_all(admin, backup)
        await _write(redis_server.url, tmp_path / "cron", "+18015550172")
        await _write(redis_server.url, tmp_path / "cron", "+18015550173")
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
        assert node.behind is not None
    finally:
        await node.aclose()


async def test_a_store_without_the_acknowledged_counter_raises_marks_as_before(
        tmp_path, redis_server):
    """A store the previous version wrote has no ``ACKED_KEY``: a read raises the mark to
    the counter, as then (nothing weaker for the ``aof-always`` default); an
    ``aof-always`` write sets it with the counter, in its script."""
    admin = aioredis.from_url(redis_server.url)
    node = _store(redis_server.url, tmp_path / "b", RecordsSettings())
    try:
        await _write(redis_server.url, tmp_path / "cron", "+18015550170", RecordsSettings())
        assert await admin.get(ACKED_KEY) == await admin.get(SEQ_KEY)
        await admin.delete(ACKED_KEY)
        await admin.incr(SEQ_KEY)  # a write of the previous version: no acknowledged value
        await node.start()
        assert await node.company_dnc(SELLER, "+18015550170") is not None
        assert node._high.known == int(await admin.get(SEQ_KEY))
    finally:
        await node.aclose()
        await admin.aclose()


async def test_accept_older_sets_the_mark_no_higher_than_acknowledged(
        tmp_path, redis_server, replicated):
    """``records-accept-older`` on a node refusing a restored store, whose counter is past
    the acknowledged one (an unacknowledged write since): the mark it writes is the
    acknowledged value and its id, as a read would raise it. Set to the counter, the node
    would be locked out again once a failover lost that write and another writer made
    the value anew."""
    admin = replicated
    await _write(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = _store(redis_server.url, tmp_path / "b")
    await node.start()
    try:
        await _write(redis_server.url, tmp_path / "w", LOST)  # acknowledged, then lost
        assert await node.company_dnc(SELLER, LOST) is not None
        await restore_all(admin, backup)
        with pytest.raises(StoreError, match="not acknowledged as durable"):
            await _write(redis_server.url, tmp_path / "w2", "+18015550172", UNACKED)
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
    finally:
        await node.aclose()
    acked = int(await admin.get(ACKED_KEY))
    assert int(await admin.get(SEQ_KEY)) == acked + 1
    settings = load_settings(data_dir=tmp_path / "b")
    settings = replace(settings, records=replace(ACKED, backend="redis"),
                       redis_url=redis_server.url)
    said = await _accept(open_runtime(settings, lists=False), "re-recorded from the CRM")
    assert f"to {acked} " in said
    saved = orjson.loads((tmp_path / "b" / HIGH_WATER_FILE).read_bytes())
    assert saved["seq"] == acked
    assert saved["id"] == (await admin.hget(IDS_KEY, str(acked))).decode()
