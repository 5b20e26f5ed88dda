"""Group commit of call-frequency reservations: the ones in flight on a node go in one
Lua script (Redis, a real server) or one transaction (SQLite), answer exactly what the
same reservations made one by one would, and fail together, closed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
import redis
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.policy.frequency import FrequencyClaim
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.frequency_batch import GroupCommit
from callguard.stores.redis.frequency import RedisFrequency
from tests.test_frequency import CLAIM, HASH, NOON, assert_every_allow_counted

OTHER = FrequencyClaim("us-x:cap", "campaign:roofing", 3600, 1)


@pytest.fixture
def server(tmp_path):
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path / "r")
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


def scripts_run(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items()
                   if k in ("cmdstat_evalsha", "cmdstat_eval"))
    finally:
        client.close()


class TestRedisGroups:
    """Reservations in flight on one node, on a real redis-server."""

    async def test_a_burst_goes_in_fewer_scripts_and_grants_exactly_the_cap(self, server):
        """Thirty checks of three numbers at once: fewer scripts than checks, three ALLOWs
        per number, counted in order (0, 1, 2) as if made one by one."""
        node = RedisFrequency(aioredis.from_url(server.url, socket_timeout=2), HASH,
                              retention_s=86_400)
        before = scripts_run(server.url)
        numbers = [f"+1305555010{i % 3}" for i in range(30)]
        results = await asyncio.gather(*(node.reserve(n, [CLAIM], NOON) for n in numbers))
        scripts = scripts_run(server.url) - before
        await node.aclose()
        assert scripts < len(numbers)
        for number in set(numbers):
            mine = [r for n, r in zip(numbers, results, strict=True) if n == number]
            assert [r.counts[0] for r in mine if r.granted] == [0, 1, 2]
            assert sum(not r.granted for r in mine) == 7

    async def test_claims_of_one_group_differ_per_reservation(self, server):
        """Two claims on one call and one on the next, in one group: each is answered
        for its own claims; the second claim's cap of one refuses the repeat."""
        node = RedisFrequency(aioredis.from_url(server.url, socket_timeout=2), HASH,
                              retention_s=86_400)
        first, second, third = await asyncio.gather(
            node.reserve("+13055550111", [CLAIM, OTHER], NOON),
            node.reserve("+13055550112", [CLAIM], NOON),
            node.reserve("+13055550111", [CLAIM, OTHER], NOON))
        await node.aclose()
        assert first.granted
        assert first.counts == (0, 0)
        assert second.granted
        assert second.claims == (CLAIM,)
        assert third.refused == 1
        assert third.counts == (1, 1)

    async def test_a_dead_server_fails_every_reservation_of_the_group(self, server):
        """Redis gone: every reservation in flight raises StoreError, none is granted."""
        node = RedisFrequency(aioredis.from_url(server.url, socket_timeout=1,
                                                socket_connect_timeout=1), HASH,
                              retention_s=86_400)
        server.kill()
        results = await asyncio.gather(*(node.reserve(f"+130555501{i:02d}", [CLAIM], NOON)
                                         for i in range(8)), return_exceptions=True)
        await node.aclose()
        assert all(isinstance(r, StoreError) for r in results), results


class TestRedisKilled:
    """Redis SIGKILLed while a node has groups in flight."""

    async def test_every_allow_given_before_the_kill_is_in_the_count(self, server):
        """Sixteen checks in flight on one node until Redis dies (killed once 60 were
        answered, not on a timer): after the kill every check raises; after a restart
        from the AOF every ALLOW given is counted, none over the cap."""
        node = RedisFrequency(aioredis.from_url(server.url, socket_timeout=1,
                                                socket_connect_timeout=1), HASH,
                              retention_s=86_400)
        granted: dict[str, int] = {}
        answered = 0
        failures = 0
        killed = asyncio.Event()

        async def worker(offset: int) -> None:
            nonlocal answered, failures
            for i in range(10_000):
                number = f"+1305555{(offset + i) % 40:04d}"
                try:
                    result = await node.reserve(number, [CLAIM], NOON)
                except StoreError:
                    assert killed.is_set(), "a store error before the kill"
                    failures += 1
                    return
                answered += 1
                if answered == 60:
                    killed.set()
                    server.kill()
                if result.granted:
                    granted[number] = granted.get(number, 0) + 1

        await asyncio.gather(*(worker(w * 3) for w in range(16)))
        await node.aclose()
        assert failures == 16
        assert granted
        server.start()
        assert_every_allow_counted(server.url, granted)


class TestEmbeddedGroups:
    """Reservations in flight in one process, on one SQLite file."""

    async def test_a_burst_goes_in_fewer_transactions(self, tmp_path):
        """Twenty checks at once are committed in fewer transactions than checks."""
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400)
        sizes: list[int] = []
        commit = store.reserve_batch

        def counting(batch):
            sizes.append(len(batch))
            return commit(batch)

        store.reserve_batch = counting  # type: ignore[method-assign]
        results = await asyncio.gather(*(store.reserve(f"+130555502{i:02d}", [CLAIM], NOON)
                                         for i in range(20)))
        await store.aclose()
        assert all(r.granted for r in results)
        assert sum(sizes) == 20
        assert len(sizes) < 20


class TestGroupCommit:
    """The queue itself, with a commit function written here."""

    async def test_a_failed_commit_fails_every_waiter_and_the_next_group_still_goes(self):
        """Every group raises while the disk is gone: each caller gets a StoreError, none a
        result; once it is back, calls commit again."""
        calls: list[list[int]] = []
        disk = {"gone": True}

        async def commit(items: Sequence[int]) -> list[int]:
            calls.append(list(items))
            if disk["gone"]:
                raise OSError("disk gone")
            return [i * 10 for i in items]

        group: GroupCommit[int, int] = GroupCommit(commit, limit=64, what="counts")
        first = await asyncio.gather(*(group.submit(i) for i in range(3)),
                                     return_exceptions=True)
        assert all(isinstance(r, StoreError) and "not counted" in str(r) for r in first)
        assert sorted(i for c in calls for i in c) == [0, 1, 2]
        disk["gone"] = False
        assert await group.submit(7) == 70

    async def test_a_short_answer_trusts_none(self):
        """A commit that answers fewer results than items: every caller gets StoreError."""
        async def commit(items: Sequence[int]) -> list[int]:
            return list(items)[:-1]

        group: GroupCommit[int, int] = GroupCommit(commit, limit=64, what="counts")
        results = await asyncio.gather(*(group.submit(i) for i in range(4)),
                                       return_exceptions=True)
        assert all(isinstance(r, StoreError) and "none is trusted" in str(r)
                   for r in results)

    async def test_a_group_holds_at_most_its_limit(self):
        """Ten waiting with a limit of four go in groups of at most four, in order."""
        calls: list[list[int]] = []

        async def commit(items: Sequence[int]) -> list[int]:
            calls.append(list(items))
            return list(items)

        group: GroupCommit[int, int] = GroupCommit(commit, limit=4, what="counts")
        assert await asyncio.gather(*(group.submit(i) for i in range(10))) == list(range(10))
        assert max(len(c) for c in calls) <= 4
        assert [i for c in calls for i in c] == list(range(10))
