"""An import switched to a version a newer import's sweep had emptied (hsto20).

Import A takes v2 and writes its chunks; import B takes v3, switches, and sweeps the
chunks of every older version without a manifest — A's, still under way. ``dnc rollback``
then brings ``current`` back to v1, below A, and A switches: v2 current with no chunks.
Every node refuses it; a node started after serves none of the list and BLOCKs every call
in its scope. The switch now requires the import's manifest and chunks (watched in its
MULTI/EXEC), and the sweep deletes only while the version has no manifest and is not
current (one script). A rollback, likewise, reads back the version it goes to first.
"""

from __future__ import annotations

import asyncio

import pytest

from callguard.errors import StoreError
from callguard.stores.redis import lists
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.test_redis_lists import PUBLISHED, bounded, connect, listing, publish


def _pause_manifest(client, version: int, reached: asyncio.Event, go: asyncio.Event):
    """A's client waits before writing its manifest (its chunks written and checked)."""
    real_set = client.set

    async def paused(key, *args, **kwargs):
        if str(key).endswith(f":v{version}:manifest"):
            reached.set()
            await go.wait()
        return await real_set(key, *args, **kwargs)

    client.set = paused


async def _a_node_started_after(url: str) -> RedisListRegistry:
    registry = RedisListRegistry(connect(url))
    await bounded(registry.sync(), "a node's first sync")
    return registry


async def test_a_swept_import_is_not_switched_after_a_rollback(redis_server) -> None:
    direct, a_client = connect(redis_server.url), connect(redis_server.url)
    try:
        await publish(direct, [8015550101])  # v1
        reached, go = asyncio.Event(), asyncio.Event()
        _pause_manifest(a_client, 2, reached, go)
        a = asyncio.ensure_future(RedisListPublisher(a_client).publish(
            "national", listing([8015550101, 8015550202]), published=PUBLISHED,
            area_codes=None, source="import A"))
        await bounded(reached.wait(), "import A writing its chunks")
        assert (await publish(direct, [8015550101, 8015550303])).version == 3  # sweeps A's
        assert await RedisListPublisher(direct).rollback("national") == 1
        go.set()
        with pytest.raises(StoreError, match=r"v2.*nothing was published"):
            await bounded(a, "import A finishing")
        assert int(await direct.get("callguard:list:national:current")) == 1
        registry = await _a_node_started_after(redis_server.url)
        snapshot = registry.snapshot("national")
        assert snapshot is not None, registry.errors
        assert snapshot.meta.version == 1, registry.errors
    finally:
        for c in (direct, a_client):
            await bounded(c.aclose(), "closing a client")


async def test_the_sweep_keeps_chunks_whose_manifest_came_after_its_scan(redis_server
                                                                        ) -> None:
    """B's sweep scanned A's chunks (no manifest yet); meanwhile a rollback, and A wrote its
    manifest and switched; B's delete then emptied the current version."""
    direct, a_client, b_client = (connect(redis_server.url) for _ in range(3))
    try:
        await publish(direct, [8015550101])  # v1
        reached, go = asyncio.Event(), asyncio.Event()
        _pause_manifest(a_client, 2, reached, go)
        a = asyncio.ensure_future(RedisListPublisher(a_client).publish(
            "national", listing([8015550101, 8015550202]), published=PUBLISHED,
            area_codes=None, source="import A"))
        await bounded(reached.wait(), "import A writing its chunks")
        fired = [False]

        async def interleave() -> None:  # between B's scan and B's delete
            if fired[0]:
                return
            fired[0] = True
            assert await RedisListPublisher(direct).rollback("national") == 1
            go.set()
            await bounded(a, "import A finishing")

        real_exists, real_eval = b_client.exists, b_client.eval

        async def exists(*keys):  # the sweep before: checked, then deleted
            count = await real_exists(*keys)
            if any(str(k).endswith(":v2:manifest") for k in keys):
                await interleave()
            return count

        async def eval_(script, *args):  # the sweep now: one script
            if script == getattr(lists, "_SWEEP", None):
                await interleave()
            return await real_eval(script, *args)

        b_client.exists, b_client.eval = exists, eval_
        assert (await publish(b_client, [8015550101, 8015550303])).version == 3
        assert fired[0]
        assert int(await direct.get("callguard:list:national:current")) == 2
        registry = await _a_node_started_after(redis_server.url)
        snapshot = registry.snapshot("national")
        assert snapshot is not None, registry.errors
        assert snapshot.meta.version == 2, registry.errors
    finally:
        for c in (direct, a_client, b_client):
            await bounded(c.aclose(), "closing a client")


async def test_a_rollback_onto_a_version_missing_a_chunk_is_refused(redis_server) -> None:
    """``previous`` with a chunk gone (evicted under maxmemory, removed): the rollback made
    it current though no node could load it — every node kept serving the version rolled
    back from, and the operator was told it was undone."""
    client = connect(redis_server.url)
    try:
        await publish(client, [8015550101, 8015550202])  # v1
        await publish(client, [8015550101])  # v2: the bad copy, one number missing
        await client.delete("callguard:list:national:v1:npa:801")
        with pytest.raises(StoreError, match=r"cannot roll back to v1.*nothing was rolled"):
            await RedisListPublisher(client).rollback("national")
        assert int(await client.get("callguard:list:national:current")) == 2
        assert int(await client.get("callguard:list:national:previous")) == 1
    finally:
        await bounded(client.aclose(), "closing a client")


async def test_a_rollback_onto_an_empty_list_still_goes(redis_server) -> None:
    client = connect(redis_server.url)
    try:
        await publish(client, [])  # v1: no area code at all
        await publish(client, [8015550101])
        assert await RedisListPublisher(client).rollback("national") == 1
    finally:
        await bounded(client.aclose(), "closing a client")


async def test_an_import_across_a_flushall_is_not_switched(redis_server) -> None:
    """Redis flushed (or restarted empty) while an import ran, between its chunks' read-back
    and its switch: it made current a version with a manifest and no chunk."""
    direct, a_client = connect(redis_server.url), connect(redis_server.url)
    try:
        await publish(direct, [8015550101])  # v1
        reached, go = asyncio.Event(), asyncio.Event()
        _pause_manifest(a_client, 2, reached, go)
        a = asyncio.ensure_future(RedisListPublisher(a_client).publish(
            "national", listing([8015550101, 8015550202]), published=PUBLISHED,
            area_codes=None, source="import A"))
        await bounded(reached.wait(), "import A writing its chunks")
        await direct.flushall()
        go.set()
        with pytest.raises(StoreError, match=r"v2.*gone from Redis"):
            await bounded(a, "import A finishing")
        assert await direct.get("callguard:list:national:current") is None
        assert await direct.keys("callguard:list:national:v2:*") == []
    finally:
        for c in (direct, a_client):
            await bounded(c.aclose(), "closing a client")
