"""Review 37 of ``dnc rollback`` with the ``withdrawn`` set (hux17): an import landing
between the rollback's read of ``current`` and its switch. A real redis-server on a free
port; the import is a real publish by another client at that moment."""

from __future__ import annotations

import pytest

from callguard.errors import StoreError
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.test_redis_lists import connect, publish

OLD, NEW, NEWEST = 8015550101, 8015550202, 8015550303


@pytest.mark.usefixtures("redis_server")
async def test_an_import_during_a_rollback_is_never_skipped_unwithdrawn(redis_server):
    """v1, v2 published, a node serves v2... a rollback reads current v2, then a cron's
    import publishes v3 (served by the node), then the rollback switches. Before: current
    became v1 and only v2 was recorded withdrawn — v3, the newest import, skipped without
    a trace: the node serving it refused v1 as a restored backup (restarted, it BLOCKs every
    call in scope) while the admin was told the list was back at v1. Now the rollback sees
    ``current`` moved, changes nothing and says so (run it again)."""
    client = connect(redis_server.url)
    other = connect(redis_server.url)
    await publish(client, [OLD])
    await publish(client, [OLD, NEW])

    class Raced(RedisListPublisher):
        raced = False

        async def _newest_before(self, name, version):
            if not self.raced:  # the import lands while the rollback is under way
                self.raced = True
                await publish(other, [OLD, NEW, NEWEST])
            return await super()._newest_before(name, version)

    node = RedisListRegistry(connect(redis_server.url))
    try:
        with pytest.raises(StoreError, match="changed"):
            await Raced(client).rollback("national")
        assert int(await client.get("callguard:list:national:current")) == 3
        await node.sync()
        assert node.snapshot("national").meta.version == 3
        assert not node.errors
        # run again: v3 is withdrawn, v2 current, and the node follows it
        assert await RedisListPublisher(client).rollback("national") == 2
        await node.sync()
        assert node.snapshot("national").meta.version == 2
        assert not node.errors
    finally:
        await client.aclose()
        await other.aclose()
