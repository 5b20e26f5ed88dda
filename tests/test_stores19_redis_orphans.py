"""A Redis list import that fails mid-way leaves no chunks behind (hsto19).

Each failed import left every chunk it had written: a whole list's worth of memory (the
national list is gigabytes), kept for good. Under ``maxmemory`` with ``noeviction`` the
failure IS the memory running out, and the chunks left kept it full: the next import
failed the same way, and every write of the records (consent, do-not-call requests) was
refused too; under an evicting policy they pushed out other keys. Now a failed import
deletes its chunks, and when it cannot (Redis gone, the process killed) the next
successful import of the list sweeps them; a version kept for rollback is never touched.
"""

from __future__ import annotations

import random

import pytest

from callguard.errors import StoreError
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.test_redis_lists import PUBLISHED, bounded, connect, listing, publish


def _large(areas: int = 300, per_area: int = 20_000) -> ParsedList:
    """Random numbers: chunks that do not compress to runs (~40 KB each)."""
    rng = random.Random(19)
    parsed = ParsedList()
    for area in range(201, 201 + areas):
        parsed.by_area[area] = sorted(rng.sample(range(2_000_000, 9_999_999), per_area))
    return parsed


async def _chunk_keys(client, version: int) -> list[bytes]:
    return [k async for k in client.scan_iter(match=f"callguard:list:national:v{version}:*")]


@pytest.fixture
async def client(redis_server):
    client = connect(redis_server.url)
    yield client
    await bounded(client.aclose(), "closing the fixture client")


async def test_an_import_refused_by_maxmemory_deletes_its_chunks(client) -> None:
    await publish(client, [8015550101])
    used = int((await client.info("memory"))["used_memory"])
    await client.config_set("maxmemory", used + 4 * 1024 * 1024)  # 4 MB more; ~12 MB due
    await client.config_set("maxmemory-policy", "noeviction")
    with pytest.raises(StoreError, match="current version is unchanged"):
        await RedisListPublisher(client).publish("national", _large(), published=PUBLISHED,
                                                 area_codes=None, source="large")
    assert await _chunk_keys(client, 2) == []  # before: ~100 chunks, the memory kept full
    await client.set("callguard:probe", b"x" * 100_000)  # other writes have room again
    assert (await publish(client, [8015550202])).version == 3


async def test_chunks_a_killed_import_left_are_swept_by_the_next(redis_server,
                                                                 client) -> None:
    await publish(client, [8015550101])
    big = listing([8015550202], extra_areas=400)
    pipeline = client.pipeline
    batches = 0

    def killing_pipeline(*args, **kwargs):
        nonlocal batches
        batches += 1
        if batches == 3:  # two batches of v2's chunks are in Redis (its AOF): now the crash
            redis_server.kill()
        return pipeline(*args, **kwargs)

    client.pipeline = killing_pipeline
    with pytest.raises(StoreError, match="current version is unchanged"):
        await RedisListPublisher(client).publish("national", big, published=PUBLISHED,
                                                 area_codes=None, source="big")
    client.pipeline = pipeline
    redis_server.start()
    fresh = connect(redis_server.url)
    try:
        assert await _chunk_keys(fresh, 2)  # left by the crash (nothing could delete them)
        assert (await publish(fresh, [8015550303])).version == 3
        assert await _chunk_keys(fresh, 2) == []
        assert await fresh.exists("callguard:list:national:v1:manifest")  # rollback's, kept
        assert await fresh.exists("callguard:list:national:v1:npa:801")
        assert await RedisListPublisher(fresh).rollback("national") == 1
        node = RedisListRegistry(fresh)
        await bounded(node.start(), "starting a node")
        try:
            assert node.snapshot("national").contains(8015550101)
        finally:
            await bounded(node.close(), "closing the node")
    finally:
        await bounded(fresh.aclose(), "closing the fresh client")


async def test_an_older_import_whose_chunks_a_newer_swept_says_so(redis_server,
                                                                  client) -> None:
    """Import A (v2) has written its chunks; import B (v3) publishes meanwhile and sweeps
    them (no manifest yet). A's read-back then finds them gone: it is refused as the older
    import it is ("a newer version v3 was published"), not as a damaged chunk."""
    await publish(client, [8015550101])
    other = connect(redis_server.url)
    mget = client.mget
    ran = False

    async def newer_first(*args, **kwargs):
        nonlocal ran
        if not ran:
            ran = True
            assert (await publish(other, [8015550303])).version == 3
        return await mget(*args, **kwargs)

    client.mget = newer_first
    try:
        with pytest.raises(StoreError, match="a newer version v3 was published while this "
                                             r"import \(v2\) ran"):
            await publish(client, [8015550202])
    finally:
        client.mget = mget
        await bounded(other.aclose(), "closing the other client")
    assert await _chunk_keys(client, 2) == []
    assert int(await client.get("callguard:list:national:current")) == 3
