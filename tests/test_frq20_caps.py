"""Call-frequency caps under attack (helper hfrq20): a Redis that comes back older than the
counts a node already relied on must never answer a lower count, on a real redis-server."""

from __future__ import annotations

import pytest

from callguard.errors import StoreError
from tests.redis_restore import dump_all, restore_all
from tests.test_frequency import CLAIM, NOON, node_counts, redis_node

NUMBER = "+13055550177"


async def test_a_store_restored_from_an_older_backup_never_grants_a_fourth_call(
        tmp_path, redis_server):
    """Fla. Stat. 501.616(6)(b): two calls counted, a backup taken, a third counted, then
    Redis back on the backup (an older RDB; the record store wrote nothing since, so its
    marker and its high-water mark both pass): the fourth call is refused (StoreError: the
    gate BLOCKs), never granted on the count of two the backup holds — nor read as two by
    a scrub. Before: granted."""
    async with node_counts(tmp_path, redis_server) as (store, _records, admin):
        for _ in range(2):
            assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        backup = await dump_all(admin)
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        await restore_all(admin, backup)
        with pytest.raises(StoreError, match="older"):
            await store.reserve(NUMBER, [CLAIM], NOON)
        with pytest.raises(StoreError, match="older"):
            await store.count(NUMBER, [CLAIM], NOON)
        with pytest.raises(StoreError, match="older"):  # it stays refused, not one group
            await store.reserve("+13055550178", [CLAIM], NOON)


async def test_another_node_writing_meanwhile_is_not_a_restore(redis_server):
    """Two nodes on one server: the counter rises under both, each sees the other's groups
    as a higher value, never a lower one — no false refusal (every call BLOCKed)."""
    nodes = [redis_node(redis_server.url), redis_node(redis_server.url)]
    try:
        for turn in range(6):
            node = nodes[turn % 2]
            assert (await node.reserve(f"+1305555{turn:04d}", [CLAIM], NOON)).granted
            assert (await node.count(f"+1305555{turn:04d}", [CLAIM], NOON)) == (1,)
    finally:
        for node in nodes:
            await node.aclose()
