"""A Redis record store restored from an older backup and then written past a node's mark
(high_water.py's ids), on a real redis-server: the counter alone took it for the newest
store, and a number whose do-not-call request the restore lost read as "none" — ALLOWed
(47 CFR 64.1200(d)(3)). The writer that pushes the counter past the mark has a lower one:
another data dir's CLI (a nightly import), a node down through the restore, a new data dir.

A backup here is every key's DUMP, a restore FLUSHALL and RESTORE of each: what Redis
restarted on an older RDB/AOF copy holds (``tests/test_records17_restore.py`` does that
with the AOF files and ``callguard serve``)."""

from __future__ import annotations

import orjson
import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis.high_water import (
    HIGH_WATER_FILE,
    ID_WINDOW,
    IDS_KEY,
    SEQ_KEY,
    write_high_water,
)
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE
from tests.redis_restore import LOST, SELLER, dnc, dump_all, records_store, restore_all, write_each


async def test_a_running_node_refuses_a_restored_store_written_past_its_mark(tmp_path,
                                                                            redis_server):
    """Node A records an opt-out; Redis is restored from the backup before it; the import
    (its mark from before) writes twice: the counter passes A's mark before A reads again.
    main: A's next read took the counter for the newest store and read "none"."""
    admin = aioredis.from_url(redis_server.url)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = records_store(redis_server.url, tmp_path / "a")
    await node.start()
    try:
        await node.apply([dnc(LOST)])
        await restore_all(admin, backup)
        await write_each(redis_server.url, tmp_path / "cron", "+18015550172", "+18015550173")
        assert int(await admin.get(SEQ_KEY)) > node._high.known  # the counter alone: fine
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
        assert node.behind is not None
        assert node.went_back == 1
        with pytest.raises(StoreError, match="older than one this node"):
            await node.apply([dnc("+18015550174")])  # and nothing written
        assert await admin.exists(f"callguard:rec:{SELLER}:+18015550174") == 0
        assert await node.verify() is not None  # /readyz not ready
    finally:
        await node.aclose()
        await admin.aclose()


async def test_a_node_down_through_the_restore_refuses_from_its_start(tmp_path,
                                                                      redis_server):
    """Node A stops; Redis is restored from an older backup and the import writes past
    A's mark; A starts. main: it started without complaint and read the lost opt-out as
    "none". Now it is behind from the start, and the newest backup restored clears it."""
    admin = aioredis.from_url(redis_server.url)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = records_store(redis_server.url, tmp_path / "a")
    await node.start()
    await node.apply([dnc(LOST)])
    await node.aclose()
    newest = await dump_all(admin)
    await restore_all(admin, backup)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550172", "+18015550173")
    again = records_store(redis_server.url, tmp_path / "a")
    await again.start()
    try:
        assert again.behind is not None
        with pytest.raises(StoreError, match="older than one this node"):
            await again.company_dnc(SELLER, LOST)
        assert await again.verify() is not None
        await restore_all(admin, newest)  # the newest backup: A's own history again
        await again.recheck()
        assert again.behind is None
        assert await again.company_dnc(SELLER, LOST) is not None
    finally:
        await again.aclose()
        await admin.aclose()


async def test_nodes_on_one_history_never_refuse_each_other(tmp_path, redis_server):
    """Two nodes and the import write in turn, each raising the counter past the others'
    marks: one history, every id a node knows is the store's; nobody is behind (and a
    node whose mark file predates ids takes the store's id for its mark)."""
    a = records_store(redis_server.url, tmp_path / "a")
    b = records_store(redis_server.url, tmp_path / "b")
    await a.start()
    await b.start()
    try:
        for n in range(3):
            await a.apply([dnc(f"+1801555018{n}")])
            await b.apply([dnc(f"+1801555019{n}")])
            await write_each(redis_server.url, tmp_path / "cron", f"+1801555020{n}")
            assert await a.company_dnc(SELLER, f"+1801555019{n}") is not None
            assert await b.company_dnc(SELLER, f"+1801555020{n}") is not None
        assert a.behind is None
        assert b.behind is None
        assert a.went_back == b.went_back == 0
        saved = orjson.loads((tmp_path / "a" / HIGH_WATER_FILE).read_bytes())
        assert saved["id"] == (await a._client.hget(IDS_KEY, str(saved["seq"]))).decode()
    finally:
        await a.aclose()
        await b.aclose()
    # The previous version's file: a mark, no id. Read as before; the store's id adopted.
    write_high_water(tmp_path / "b" / HIGH_WATER_FILE, b.marker, saved["seq"])
    old = records_store(redis_server.url, tmp_path / "b")
    await old.start()
    try:
        assert old.behind is None
        assert await old.company_dnc(SELLER, "+18015550180") is not None
        assert old._high.known_id is not None
    finally:
        await old.aclose()
    assert "id" in orjson.loads((tmp_path / "b" / HIGH_WATER_FILE).read_bytes())


async def test_the_ids_stay_bounded_and_a_trimmed_one_cannot_tell(tmp_path, redis_server):
    """Each write drops the id ``ID_WINDOW`` values back: Redis holds at most that many.
    A node whose mark's id is gone (idle past them) cannot tell another history from its
    own: the store is served (the README says so), as before ids."""
    admin = aioredis.from_url(redis_server.url)
    node = records_store(redis_server.url, tmp_path / "a")
    await node.start()
    await node.apply([dnc(LOST)])
    mark = node._high.known
    await node.aclose()
    await admin.set(SEQ_KEY, mark + ID_WINDOW - 1)  # as if that many writes were made
    await write_each(redis_server.url, tmp_path / "cron", "+18015550172")
    again = records_store(redis_server.url, tmp_path / "a")
    try:
        assert await admin.hexists(IDS_KEY, str(mark)) == 0  # dropped by that write
        assert await admin.hexists(IDS_KEY, str(mark + ID_WINDOW)) == 1
        assert await admin.hlen(IDS_KEY) <= ID_WINDOW
        await again.start()  # its mark's id gone: cannot tell, served
        assert again.behind is None
        assert await again.company_dnc(SELLER, LOST) is not None
    finally:
        await again.aclose()
        await admin.aclose()


async def test_a_refusing_node_is_not_cleared_by_a_counter_past_its_mark_alone(
        tmp_path, redis_server):
    """Node A refuses a restored store (its counter lower); the import then writes past
    A's mark on a store whose ids for it are gone (a backup from before ids, or trimmed):
    the counter alone cleared A (main), and the lost opt-out read as "none". A refusing
    node needs its own id back (the newest backup) or ``records-accept-older``."""
    admin = aioredis.from_url(redis_server.url)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = records_store(redis_server.url, tmp_path / "a")
    await node.start()
    try:
        await node.apply([dnc(LOST)])
        await restore_all(admin, backup)
        await admin.delete(IDS_KEY)
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
        await write_each(redis_server.url, tmp_path / "cron", "+18015550172", "+18015550173")
        await admin.delete(IDS_KEY)  # no id to compare
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
        await node.recheck()
        assert node.behind is not None
        assert node.went_back == 1
    finally:
        await node.aclose()
        await admin.aclose()


async def test_a_write_wait_did_not_see_replicated_does_not_raise_the_mark(tmp_path,
                                                                          redis_server):
    """``durability = "replicas"``: WAIT saw no replica, the write is not acknowledged; a
    failover then promotes a replica without it, and another node writes that counter
    value anew (another id). The writer's mark had risen with the unacknowledged write, so
    it refused the promoted replica until ``records-accept-older``. (A node that READ it
    before the failover: ``tests/test_records18_acked.py``.)"""
    admin = aioredis.from_url(redis_server.url)
    settings = RecordsSettings(durability="replicas", on_weak_durability="warn",
                               wait_timeout_ms=10)
    (tmp_path / "a").mkdir()
    node = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2), settings,
                        remember=tmp_path / "a" / MARKER_FILE)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550170")
    await node.start()
    try:
        replica = await dump_all(admin)  # what the replica holds
        with pytest.raises(StoreError, match="not acknowledged as durable"):
            await node.apply([dnc(LOST)])
        await restore_all(admin, replica)  # the failover
        await write_each(redis_server.url, tmp_path / "cron", "+18015550172")
        assert await node.company_dnc(SELLER, "+18015550172") is not None
        assert node.behind is None
    finally:
        await node.aclose()
        await admin.aclose()
