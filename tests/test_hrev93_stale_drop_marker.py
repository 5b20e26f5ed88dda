"""A `dnc drop` record older than the copy a node serves is no drop of that copy (hrev93).

`dnc drop LIST --yes` leaves ``callguard:list:LIST:dropped`` (the version dropped) in Redis,
and a node that finds no current version beside it forgets the list on purpose: with the
shipped ``[lists] not_loaded`` (fl-state, ok-state) the list then reads as absent, and a
Floridian's New York mobile on it is ALLOWed. The record is cleared by the next import; a
Redis restored from a backup taken between the drop and that import (or a replica that
missed the import, promoted) holds the record again, and no version. The node served the
re-imported copy, newer than the version the record names: Redis lost that copy, it did not
drop it (hsto22's own rule: a list the node served, absent from Redis with no drop record,
is an error, unread, every call in its scope BLOCKed). It forgot the list instead, and a
restarted node read it as not loaded on purpose. Real redis-server on a free port.
"""

from __future__ import annotations

import asyncio

import structlog

from callguard.stores.redis.lists import SERVED_LISTS_FILE, RedisListPublisher, RedisListRegistry
from tests.test_redis_lists import connect, publish, wait_for

NEW_YORK = 2125550143  # a Floridian's New York mobile, on fl-state
MARKER = "callguard:list:fl-state:dropped"


async def test_a_node_serving_a_newer_copy_keeps_it_when_an_old_drop_record_returns(
        redis_server, tmp_path):
    """fl-state v1 dropped (the record names v1; a backup taken then), imported again as v2
    (the record cleared) and served; the backup restored: the record, no fl-state."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    await publish(client, [NEW_YORK], name="fl-state")
    await RedisListPublisher(client).drop("fl-state")
    backup = await client.dump(MARKER)
    await publish(client, [NEW_YORK], name="fl-state")  # v2, served below
    assert await client.get(MARKER) is None
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1, check_seconds=0.2)
    node.remember_in(tmp_path / SERVED_LISTS_FILE)
    try:
        await node.start()
        await wait_for(lambda: node.snapshot("fl-state") is not None, timeout=5)
        assert node.snapshot("fl-state").meta.version == 2
        with structlog.testing.capture_logs() as logs:
            await client.flushall()  # the backup taken after the drop, restored
            await client.restore(MARKER, 0, backup)
            await publish(client, [8015550101])
            await wait_for(lambda: any(e["event"] in ("list_gone_from_redis", "list_dropped")
                                       for e in logs), timeout=5)
            await asyncio.sleep(0.5)  # a few more syncs
        events = [e["event"] for e in logs]
        assert "list_dropped" not in events, events
        assert "list_gone_from_redis" in events, events
        snapshot = node.snapshot("fl-state")
        assert snapshot is not None
        assert snapshot.contains(NEW_YORK)  # still served
    finally:
        await node.close()

    # A node restarted on this data dir: Redis lost the copy it served; not a drop.
    restarted = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1,
                                  check_seconds=0.2)
    restarted.remember_in(tmp_path / SERVED_LISTS_FILE)
    try:
        await restarted.start()
        await wait_for(lambda: "fl-state" in restarted.errors, timeout=5)
        assert "served v2" in restarted.errors["fl-state"], restarted.errors
        assert "an older version only" in restarted.errors["fl-state"]
    finally:
        await restarted.close()
        await client.aclose()


async def test_a_drop_of_the_copy_served_is_still_a_drop(redis_server, tmp_path):
    """The record names the version the node serves: the node forgets it (as hsto22)."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    await publish(client, [NEW_YORK], name="fl-state")
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1, check_seconds=0.2)
    node.remember_in(tmp_path / SERVED_LISTS_FILE)
    try:
        await node.start()
        await wait_for(lambda: node.snapshot("fl-state") is not None, timeout=5)
        await RedisListPublisher(client).drop("fl-state")
        await wait_for(lambda: node.snapshot("fl-state") is None, timeout=5)
        assert "fl-state" not in node.errors
    finally:
        await node.close()
    restarted = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
    restarted.remember_in(tmp_path / SERVED_LISTS_FILE)
    try:
        await restarted.start()
        await asyncio.sleep(0.3)
        assert restarted.snapshot("fl-state") is None
        assert "fl-state" not in restarted.errors, restarted.errors
    finally:
        await restarted.close()
        await client.aclose()
