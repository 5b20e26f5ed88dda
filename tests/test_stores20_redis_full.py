"""Lists published through a Redis that is full, or that evicts (hsto20).

Under ``maxmemory-policy allkeys-lru`` an import filling the server evicted the list's
versions, ``current`` included: a node started after served none of it (every call in its
scope BLOCKed), and the import was refused as "npa N is missing". Publishing there is
refused now, naming the setting. Under ``noeviction`` the refusal of a full server quoted
redis-py's pipeline command: a chunk's binary bitmap, up to kilobytes, printed to the
operator's terminal; it says "Redis is full" now. Real servers, real maxmemory.
"""

from __future__ import annotations

import random

import pytest

from callguard.errors import StoreError
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.lists import RedisListPublisher
from tests.test_redis_lists import PUBLISHED, bounded, connect, publish


def _big() -> ParsedList:
    """About 2 MB of chunks: 200 area codes of 5,000 scattered numbers."""
    rng = random.Random(20)
    parsed = ParsedList()
    parsed.by_area[801] = [5550101]
    for area in range(200, 400):
        parsed.by_area[area] = rng.sample(range(2_000_000, 9_999_999), 5_000)
    return parsed


async def _publish_big(client) -> None:
    await RedisListPublisher(client).publish("national", _big(), published=PUBLISHED,
                                             area_codes=None, source="big")


async def test_an_evicting_server_is_refused_before_anything_is_written(redis_server
                                                                        ) -> None:
    client = connect(redis_server.url)
    try:
        await publish(client, [8015550101])  # v1, on a server that does not evict
        await client.config_set("maxmemory-policy", "allkeys-lru")
        with pytest.raises(StoreError, match=r"maxmemory-policy=allkeys-lru.*nothing was "
                                             r"published"):
            await publish(client, [8015550101, 8015550202])
        assert int(await client.get("callguard:list:national:current")) == 1
        assert await client.keys("callguard:list:national:v2:*") == []
        await client.config_set("maxmemory-policy", "noeviction")
        assert (await publish(client, [8015550101, 8015550202])).version == 2
    finally:
        await bounded(client.aclose(), "closing a client")


async def test_a_full_server_is_said_full_without_the_chunk_bytes(redis_server) -> None:
    client = connect(redis_server.url)
    try:
        await publish(client, [8015550101])
        used = int((await client.info("memory"))["used_memory"])
        await client.config_set("maxmemory", str(used + 512 * 1024))
        with pytest.raises(StoreError) as refused:
            await bounded(_publish_big(client), "publishing into a full Redis", 30)
        text = str(refused.value)
        assert "Redis is full (maxmemory reached)" in text
        assert "Command #" not in text
        assert "SET callguard" not in text
        assert text.isprintable()
        await client.config_set("maxmemory", "0")
        assert int(await client.get("callguard:list:national:current")) == 1
        assert await client.keys("callguard:list:national:v2:*") == []  # its writes undone
    finally:
        await bounded(client.aclose(), "closing a client")
