"""Lists shared through a real redis-server: versions, replicas, corruption, crashes."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import pytest
from redis import asyncio as aioredis

from callguard.errors import NothingToRollBack, StoreError
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry

PUBLISHED = date(2026, 11, 20)


def listing(numbers, extra_areas=0):
    parsed = ParsedList()
    for number in numbers:
        parsed.by_area.setdefault(number // 10_000_000, []).append(number % 10_000_000)
    for area in range(200, 200 + extra_areas):
        parsed.by_area.setdefault(area, []).extend(range(2_000_000, 2_000_000 + 5_000))
    return parsed


async def publish(client, numbers, name="national", **kw):
    return await RedisListPublisher(client).publish(
        name, listing(numbers, **kw), published=PUBLISHED, area_codes=None, source="test")


async def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in time")


class DamagingPublisher(RedisListPublisher):
    """Damages the new version's chunk after it was checked, before the switch."""

    async def _switch(self, name, version):
        await self._client.setrange(f"callguard:list:{name}:v{version}:npa:801", 0, b"\x00\x00")
        await super()._switch(name, version)


class TamperingPublisher(RedisListPublisher):
    """Edits the new version's manifest (still valid JSON) before the switch."""

    async def _switch(self, name, version):
        key = f"callguard:list:{name}:v{version}:manifest"
        text = (await self._client.get(key)).decode()
        await self._client.set(key, text.replace('"801": {', '"800": {'))
        await super()._switch(name, version)


def connect(url):
    """A client whose commands cannot wait forever (a test must fail, not hang)."""
    return aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


async def bounded(awaitable, what, seconds=5):
    """Await with a deadline that names the step that got stuck."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"stuck: {what}") from None


@pytest.fixture
async def client(redis_server):
    client = connect(redis_server.url)
    yield client
    await bounded(client.aclose(), "closing the fixture client")


class TestPublishAndFollow:
    """Every node sees the same version, soon after it is published."""

    async def test_two_nodes_see_a_new_version_within_a_second(self, redis_server, client):
        """Publish on one connection; two replicas load it via pub/sub in under 1 s."""
        await publish(client, [8015550101])
        nodes = [RedisListRegistry(connect(redis_server.url)) for _ in range(2)]
        for node in nodes:
            await node.start()
        try:
            assert [n.snapshot("national").meta.version for n in nodes] == [1, 1]
            started = time.monotonic()
            await publish(client, [8015550202])
            seen = [await wait_for(lambda n=n: n.snapshot("national").meta.version == 2)
                    for n in nodes]
            assert max(seen) - started < 1.0
            assert all(n.snapshot("national").contains(8015550202) for n in nodes)
            assert not any(n.snapshot("national").contains(8015550101) for n in nodes)
        finally:
            for node in nodes:
                await node.close()

    async def test_lookups_never_mix_versions_during_a_switch(self, redis_server, client):
        """Version N holds only its own numbers: each lookup matches its snapshot's version."""
        versions = {1: 8015550001}
        await publish(client, [versions[1]], extra_areas=40)
        node = RedisListRegistry(connect(redis_server.url))
        await node.start()
        mixed = []
        stop = asyncio.Event()

        async def reader():
            while not stop.is_set():
                snap = node.snapshot("national")
                own = versions[snap.meta.version]
                others = [n for v, n in versions.items() if v != snap.meta.version]
                if not snap.contains(own) or any(snap.contains(n) for n in others):
                    mixed.append(snap.meta.version)
                await asyncio.sleep(0)

        task = asyncio.ensure_future(reader())
        try:
            for version in range(2, 7):
                versions[version] = 8015550000 + version
                await publish(client, [versions[version]], extra_areas=40)
                await wait_for(lambda v=version: node.snapshot("national").meta.version == v)
        finally:
            stop.set()
            await task
            await node.close()
        assert mixed == []

    async def test_rollback_goes_back_one_version(self, redis_server, client):
        """`dnc rollback`: previous becomes current, on every node."""
        await publish(client, [8015550101])
        await publish(client, [8015550202])
        node = RedisListRegistry(connect(redis_server.url))
        await node.start()
        try:
            assert await RedisListPublisher(client).rollback("national") == 1
            await wait_for(lambda: node.snapshot("national").meta.version == 1)
            assert node.snapshot("national").contains(8015550101)
        finally:
            await node.close()

    async def test_a_second_rollback_goes_further_back_never_forward(self, redis_server,
                                                                      client):
        """Rolling back a bad v3 made v2 current; rolling back again swapped the pointers
        and published v3 again (the embedded backend goes to v1). Now v3, v2, v1, then
        nothing left to roll back to, as on disk."""
        for number in (8015550101, 8015550202, 8015550303):
            await publish(client, [number])
        publisher = RedisListPublisher(client)
        assert await publisher.rollback("national") == 2
        assert await publisher.rollback("national") == 1
        with pytest.raises(NothingToRollBack):
            await publisher.rollback("national")
        assert int(await client.get("callguard:list:national:current")) == 1

    async def test_rollback_with_nothing_before_says_so(self, redis_server, client):
        """One version only: NothingToRollBack (the CLI's usage error), the version kept."""
        with pytest.raises(NothingToRollBack, match="no previous version"):
            await RedisListPublisher(client).rollback("national")
        await publish(client, [8015550101])
        with pytest.raises(NothingToRollBack, match="no previous version"):
            await RedisListPublisher(client).rollback("national")
        assert int(await client.get("callguard:list:national:current")) == 1


class TestFailClosed:
    """A bad version is refused whole; the good one keeps serving."""

    async def test_corrupt_chunk_is_refused_and_old_version_keeps_serving(self, redis_server,
                                                                          client):
        """v2's chunk is damaged in Redis before the switch: the running node stays on v1 and
        says why; a node starting fresh refuses v2 rather than serve a damaged list, and
        serves the previous version, v1 (issue 15.10: it used to serve nothing)."""
        await publish(client, [8015550101])
        node = RedisListRegistry(connect(redis_server.url))
        await node.start()
        try:
            damaging = DamagingPublisher(client)
            await damaging.publish("national", listing([8015550202]), published=PUBLISHED,
                                   area_codes=None, source="t")
            await wait_for(lambda: "national" in node.errors)
            assert node.snapshot("national").meta.version == 1
            assert node.snapshot("national").contains(8015550101)
            assert "SHA-256 mismatch" in node.errors["national"]
            fresh = RedisListRegistry(connect(redis_server.url))
            await fresh.start()
            try:
                assert fresh.snapshot("national").meta.version == 1
                assert fresh.snapshot("national").contains(8015550101)
                assert "SHA-256 mismatch" in fresh.errors["national"]
                assert "serving v1" in fresh.errors["national"]
            finally:
                await fresh.close()
        finally:
            await node.close()

    async def test_tampered_manifest_is_refused_and_old_version_keeps_serving(
            self, redis_server, client):
        """Issue 15.5: v2's manifest says its 801 chunk is 800's (chunk hashes intact): the
        running node keeps v1, a fresh node serves v1 too, both say why (main: v2 served,
        801 numbers "not listed")."""
        await publish(client, [8015550101])
        node = RedisListRegistry(connect(redis_server.url))
        await node.start()
        try:
            await TamperingPublisher(client).publish(
                "national", listing([8015550101, 8015550202]), published=PUBLISHED,
                area_codes=None, source="t")
            await wait_for(lambda: "national" in node.errors)
            assert node.snapshot("national").meta.version == 1
            assert "does not match its checksum" in node.errors["national"]
            fresh = RedisListRegistry(connect(redis_server.url))
            await fresh.start()
            try:
                assert fresh.snapshot("national").meta.version == 1
                assert fresh.snapshot("national").contains(8015550101)
                assert "serving v1" in fresh.errors["national"]
            finally:
                await fresh.close()
        finally:
            await node.close()

    async def test_publisher_refuses_a_chunk_that_does_not_read_back(self, client):
        """The read-back check: a chunk altered between write and check stops the publish."""

        class Tampering(RedisListPublisher):
            async def publish(self, *args, **kwargs):
                original = self._client.mget

                async def mget(keys):
                    values = await original(keys)
                    return [v[:-1] for v in values]

                self._client.mget = mget
                try:
                    return await super().publish(*args, **kwargs)
                finally:
                    self._client.mget = original

        await publish(client, [8015550101])
        with pytest.raises(StoreError, match="SHA-256 mismatch"):
            await Tampering(client).publish("national", listing([8015550202]),
                                            published=PUBLISHED, area_codes=None, source="t")
        assert int(await client.get("callguard:list:national:current")) == 1

    async def test_redis_killed_mid_import_leaves_current_intact(self, redis_server, client):
        """SIGKILL after some chunks of a new version are written: v1 is still current."""
        await publish(client, [8015550101])
        big = listing([8015550202], extra_areas=400)
        publisher = RedisListPublisher(client)
        pipeline = client.pipeline
        batches = 0

        def killing_pipeline(*args, **kwargs):
            nonlocal batches
            batches += 1
            if batches == 3:  # two batches of chunks are in Redis: now the crash
                redis_server.kill()
            return pipeline(*args, **kwargs)

        client.pipeline = killing_pipeline
        with pytest.raises(StoreError, match="current version is unchanged"):
            await publisher.publish("national", big, published=PUBLISHED, area_codes=None,
                                    source="big")
        client.pipeline = pipeline
        redis_server.start()
        fresh = connect(redis_server.url)
        node = RedisListRegistry(fresh)
        await bounded(node.start(), "starting a node after the restart")
        try:
            snap = node.snapshot("national")
            assert snap.meta.version == 1
            assert snap.contains(8015550101)
            assert await fresh.exists("callguard:list:national:v2:npa:200") == 1  # it was mid-way
        finally:
            await bounded(node.close(), "closing the node")
            await bounded(fresh.aclose(), "closing the fresh client")

    async def test_node_keeps_serving_while_redis_is_down_and_catches_up(self, redis_server,
                                                                        client):
        """Redis gone: the replica answers from memory; back: the node reloads what it missed."""
        await publish(client, [8015550101])
        node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
        await node.start()
        try:
            redis_server.kill()
            await wait_for(lambda: not node.connected, timeout=3)
            assert node.snapshot("national").contains(8015550101)
            redis_server.start()
            other = connect(redis_server.url)
            await bounded(publish(other, [8015550202]), "publishing after the restart", 10)
            await bounded(other.aclose(), "closing the second client")
            await wait_for(lambda: node.snapshot("national").meta.version == 2, timeout=5)
            assert node.connected
        finally:
            await bounded(node.close(), "closing the node")

    async def test_a_new_version_reusing_a_lost_number_is_loaded(self, redis_server,
                                                                 client):
        """Redis emptied (FLUSHALL, or restarted without its AOF): the version counter
        starts again, so the next import is v1 again — with other numbers. A node serving
        the old v1 loads the new one (main: same number, so it kept the old content
        for good, ALLOWing every number only the new copy lists)."""
        await publish(client, [8015550101])
        node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
        await node.start()
        try:
            await client.flushall()
            meta = await publish(client, [8015550202])
            assert meta.version == 1
            await wait_for(lambda: node.snapshot("national").contains(8015550202), timeout=3)
            assert not node.snapshot("national").contains(8015550101)
        finally:
            await bounded(node.close(), "closing the node")
