"""Publishing on a Redis whose settings cannot be read, and with many area codes (hrev72,
review of hsto20's 3e58232 and 292afee).

Managed servers (ElastiCache, Azure Cache, Upstash) disable or rename CONFIG, and an ACL
user may lack it: the eviction check must then let the import go — refused, no list could
ever be updated there, and once it aged past the freshness rules every call in its scope
was BLOCKed. The switch watches the manifest and every chunk (hundreds with a national
list); a node reading the version meanwhile must not fail it. Real servers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.redis_server import RedisServer
from tests.test_redis_lists import bounded, connect, publish


@pytest.fixture
def renamed(tmp_path: Path):
    server = RedisServer(tmp_path / "redis", extra=("--rename-command", "CONFIG", ""))
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


async def _publishes_and_rolls_back(url: str) -> None:
    client = connect(url)
    try:
        assert (await publish(client, [8015550101])).version == 1
        assert (await publish(client, [8015550101, 8015550202])).version == 2
        assert await RedisListPublisher(client).rollback("national") == 1
    finally:
        await bounded(client.aclose(), "closing a client")


async def test_a_server_without_config_publishes(renamed: RedisServer) -> None:
    await _publishes_and_rolls_back(renamed.url)


async def test_a_user_denied_config_publishes(redis_server) -> None:
    admin = connect(redis_server.url)
    try:
        await admin.execute_command("ACL", "SETUSER", "importer", "on", ">secret", "~*",
                                    "&*", "+@all", "-config")
    finally:
        await bounded(admin.aclose(), "closing a client")
    await _publishes_and_rolls_back(
        f"redis://importer:secret@127.0.0.1:{redis_server.port}/0")


async def test_a_switch_watching_hundreds_of_chunks_is_not_failed_by_readers(
        redis_server) -> None:
    client, node_client = connect(redis_server.url), connect(redis_server.url)
    registry = RedisListRegistry(node_client)
    stop = asyncio.Event()

    async def reading() -> None:  # a node reading every chunk key, over and over
        while not stop.is_set():
            keys = await node_client.keys("callguard:list:national:v*")
            if keys:
                await node_client.mget(keys)
            await asyncio.sleep(0)

    reader = asyncio.ensure_future(reading())
    try:
        for version in (1, 2):
            meta = await bounded(publish(client, [8015550101 + version], extra_areas=600),
                                 "publishing 600 area codes", 60)
            assert meta.version == version
        await bounded(registry.sync(), "a node's sync", 30)
        snapshot = registry.snapshot("national")
        assert snapshot is not None, registry.errors
        assert snapshot.meta.version == 2
    finally:
        stop.set()
        await bounded(reader, "the reader stopping")
        for c in (client, node_client):
            await bounded(c.aclose(), "closing a client")
