"""Redis coming back empty under a serving node (hsto19): restarted without its data,
FLUSHALL, a failover to an empty replica.

Examined: the serving node keeps its replica (a listed number is still BLOCKed, never
ALLOWed as "not listed"), and a node started now loads nothing and BLOCKs every call in
the list's scope (``list ... is not loaded``; checked end to end by hand, see the report).
Found: the serving node said nothing — ready, all well — while the next node to start
would BLOCK everything. It says so now, once a list (``list_gone_from_redis``), and
says when the list is back.
"""

from __future__ import annotations

import structlog

from callguard.stores.redis.lists import RedisListRegistry
from tests.test_redis_lists import bounded, connect, publish


async def test_a_list_gone_from_redis_is_said_and_the_replica_still_blocks(redis_server
                                                                          ) -> None:
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
    await node.start()
    try:
        await client.flushall()
        with structlog.testing.capture_logs() as logs:
            await node.sync()
            await node.sync()  # said once, not at every sync
        gone = [e for e in logs if e["event"] == "list_gone_from_redis"]
        assert len(gone) == 1, logs
        assert (gone[0]["list"], gone[0]["serving"]) == ("national", 1)
        assert "import the newest copy of national again" in gone[0]["fix"]
        assert node.snapshot("national").contains(8015550101)  # still BLOCKed here

        started_now = RedisListRegistry(connect(redis_server.url))
        await started_now.start()
        try:
            assert started_now.snapshot("national") is None  # every call in scope BLOCKed
        finally:
            await bounded(started_now.close(), "closing the new node")

        with structlog.testing.capture_logs() as logs:
            await publish(client, [8015550202])
            await node.sync()
        assert any(e["event"] == "list_back_in_redis" for e in logs), logs
        assert node.snapshot("national").contains(8015550202)
    finally:
        await bounded(node.close(), "closing the node")
        await bounded(client.aclose(), "closing the client")
