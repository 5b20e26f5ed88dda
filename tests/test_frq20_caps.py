"""Call-frequency caps under attack (helper hfrq20): a Redis that comes back older than the
counts a node already relied on must never answer a lower count, on a real redis-server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callguard.errors import StoreError
from callguard.policy.frequency import FrequencyClaim
from callguard.stores.redis.frequency import HIGH_WATER_FILE, RedisFrequency
from callguard.stores.redis.records import RecordsSettings
from tests.redis_restore import dump_all, restore_all
from tests.test_frequency import (
    CLAIM,
    NOON,
    aioredis_client,
    node_counts,
    redis_node,
)

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


async def test_a_node_whose_clock_is_behind_still_counts_for_a_node_on_time(redis_server):
    """Two nodes' clocks eight seconds apart (whose clock counts? the server's): three
    calls counted by the node behind, then one asked at once on the node on time — its
    window (five seconds here, 24 hours in law) must still hold the three. Before: the
    node on time judged them older than they were and granted a fourth call within the
    window, by real time."""
    claim = FrequencyClaim(CLAIM.rule_id, CLAIM.subject, 5, 3)
    behind, on_time = redis_node(redis_server.url), redis_node(redis_server.url)
    try:
        for _ in range(3):
            late = datetime.now(UTC) - timedelta(seconds=8)
            assert (await behind.reserve(NUMBER, [claim], late)).granted
        fourth = await on_time.reserve(NUMBER, [claim], datetime.now(UTC))
        assert not fourth.granted, fourth.counts
        assert fourth.counts == (3,)
    finally:
        await behind.aclose()
        await on_time.aclose()


async def test_a_node_whose_clock_is_ahead_cannot_age_calls_out_of_the_window(redis_server):
    """The node ahead judges its window from the server's instant, not its own: calls
    counted a moment ago by a node on time are inside it."""
    claim = FrequencyClaim(CLAIM.rule_id, CLAIM.subject, 5, 3)
    on_time, ahead = redis_node(redis_server.url), redis_node(redis_server.url)
    try:
        for _ in range(3):
            assert (await on_time.reserve(NUMBER, [claim], datetime.now(UTC))).granted
        early = datetime.now(UTC) + timedelta(seconds=8)
        assert not (await ahead.reserve(NUMBER, [claim], early)).granted
    finally:
        await on_time.aclose()
        await ahead.aclose()


async def test_a_withdrawn_allow_stamped_by_the_server_is_given_back_once(redis_server):
    """The release removes the member the reservation wrote (its stamp as the server set
    it), and a second release of the same ALLOW frees nothing more."""
    node = redis_node(redis_server.url)
    number = "+13055550179"
    try:
        held = []
        for _ in range(3):
            result = await node.reserve(number, [CLAIM], datetime.now(UTC) - timedelta(
                seconds=8))
            assert result.granted
            assert result.held is not None
            held.append(result.held)
        assert await node.release(number, held[0]) == 1
        assert await node.release(number, held[0]) == 0, "a replayed release freed a slot"
        assert (await node.count(number, [CLAIM], datetime.now(UTC))) == (2,)
    finally:
        await node.aclose()


async def test_a_release_run_twice_frees_one_slot_even_among_calls_of_one_instant(
        redis_server):
    """Three calls of one number counted at one instant (one group): the withdrawn one's
    release, run twice, gives back its own row once — not a second call's of the same
    millisecond (before: the second run took another member scored alike, and the number
    could be called a fourth time)."""
    node = redis_node(redis_server.url)
    number = "+13055550180"
    try:
        results = await asyncio.gather(*(node.reserve(number, [CLAIM], NOON)
                                         for _ in range(3)))
        assert all(r.granted for r in results)
        held = results[0].held
        assert held is not None
        assert await node.release(number, held) == 1
        assert await node.release(number, held) == 0
        assert (await node.count(number, [CLAIM], NOON)) == (2,)
    finally:
        await node.aclose()


def _node_with_records(url: str, data):
    """A node's counts wired as ``open_frequency`` wires them, on data dir ``data``."""
    from callguard.stores.redis.records import RedisRecords
    from callguard.stores.redis.remembered import MARKER_FILE
    from tests.test_frequency import HASH

    data.mkdir(exist_ok=True)
    records = RedisRecords(aioredis_client(url), RecordsSettings(), remember=data / MARKER_FILE)
    store = RedisFrequency(aioredis_client(url), HASH, retention_s=2 * 86_400,
                           refusing=lambda: records.refusing_counts, guard=records)
    return records, store


async def test_a_node_started_after_the_restore_refuses_it_too(tmp_path, redis_server):
    """The node counted three calls and stopped; Redis came back on a backup holding two;
    the node starts again on its data dir: the fourth call is refused, not granted on the
    two (the mark is in HIGH_WATER_FILE). Removing the file accepts the server."""
    data = tmp_path / "node"
    admin = aioredis_client(redis_server.url)
    try:
        records, store = _node_with_records(redis_server.url, data)
        await records.start()
        for _ in range(2):
            assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        backup = await dump_all(admin)
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        await store.aclose()
        await records.aclose()
        assert (data / HIGH_WATER_FILE).exists()
        await restore_all(admin, backup)

        records, store = _node_with_records(redis_server.url, data)
        await records.start()
        with pytest.raises(StoreError, match="older"):
            await store.reserve(NUMBER, [CLAIM], NOON)
        await store.aclose()
        await records.aclose()

        (data / HIGH_WATER_FILE).unlink()  # the operator accepts the older counts
        records, store = _node_with_records(redis_server.url, data)
        await records.start()
        # served again; the group refused above was run (and counted) on the server
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).counts == (3,)
        assert (await store.reserve("+13055550181", [CLAIM], NOON)).granted
        await store.aclose()
        await records.aclose()
    finally:
        await admin.aclose()


async def test_under_durability_replicas_a_count_no_replica_took_is_not_acknowledged(
        tmp_path):
    """``durability = "replicas"``: the record store WAITs after every write, and so must a
    reservation — else a call is ALLOWed on a count held by the primary alone, and a
    failover to its replica forgets it (the server need not fsync in this mode). The
    replica connected but stalled (SIGSTOP): the reservation fails (the gate BLOCKs).
    Before: granted, unreplicated."""
    import signal
    import time

    import redis

    from callguard.stores.redis.records import RedisRecords
    from tests.redis_server import RedisServer
    from tests.test_frequency import HASH

    primary = RedisServer(tmp_path / "primary", appendonly="no", appendfsync="no")
    replica = RedisServer(tmp_path / "replica", appendonly="no", appendfsync="no")
    for server in (primary, replica):
        server.data_dir.mkdir()
    primary.start()
    replica.extra = ("--replicaof", "127.0.0.1", str(primary.port))
    replica.start()
    settings = RecordsSettings(backend="redis", durability="replicas", wait_replicas=1,
                               wait_timeout_ms=200)
    records = RedisRecords(aioredis_client(primary.url), settings)
    store = RedisFrequency(aioredis_client(primary.url), HASH, retention_s=2 * 86_400,
                           refusing=lambda: records.refusing_counts, guard=records)
    try:
        admin = redis.Redis.from_url(primary.url)
        deadline = time.monotonic() + 10
        while admin.info("replication").get("slave0", {}).get("state") != "online":
            assert time.monotonic() < deadline, "the replica never came online"
            time.sleep(0.05)
        await records.start()
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted  # the replica took it
        assert replica.process is not None
        replica.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StoreError, match="replica"):
                await store.reserve(NUMBER, [CLAIM], NOON)
        finally:
            replica.process.send_signal(signal.SIGCONT)
    finally:
        await store.aclose()
        await records.aclose()
        replica.stop()
        primary.stop()


def test_a_mark_is_never_written_lower_than_the_one_on_disk(tmp_path):
    """Two processes of one data dir (a node and a CLI beside it) each save the mark they
    saw: the later save of a lower value leaves the higher one; another store's mark (a
    server accepted anew) is replaced."""
    import orjson

    from callguard.stores.redis.frequency import _remember_mark

    path = tmp_path / HIGH_WATER_FILE
    _remember_mark(path, "m1", 300)
    _remember_mark(path, "m1", 250)
    assert orjson.loads(path.read_bytes()) == {"marker": "m1", "seq": 300}
    _remember_mark(path, "m2", 5)
    assert orjson.loads(path.read_bytes()) == {"marker": "m2", "seq": 5}


SELLER = FrequencyClaim("rule-seller", "seller:sunshine-solar", 24 * 3600, 3)
TOPIC = FrequencyClaim("rule-topic", "subject:roofs", 12 * 3600, 2)

@pytest.fixture(scope="module")
def frq_redis(tmp_path_factory):
    """One real redis-server for every example of the module."""
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("frq20-redis"))
    server.start()
    yield server
    server.stop()


calls = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5 * 60), st.integers(-30, 30),
                           st.booleans(), st.booleans()), min_size=1, max_size=20)


def _kept_within(kept: list[tuple[datetime, bool]], claim: FrequencyClaim,
                 topic_only: bool) -> None:
    instants = sorted(at for at, topic in kept if topic or not topic_only)
    window = timedelta(seconds=claim.window_s)
    for at in instants:
        assert sum(1 for t in instants if at - window < t <= at) <= claim.cap, (claim, at)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=calls, number=st.integers(0, 10**6))
def test_two_caps_two_nodes_and_releases_never_exceed_either_cap(frq_redis, steps,
                                                                 number):
    """What the two-node interleaving test leaves out: two caps on one number (a seller's
    3 in 24 h and a subject's 2 in 12 h, one call claiming both, most restrictive wins),
    and ALLOWs withdrawn (released) while the other node decides. The calls kept (granted,
    not released) never exceed either cap in any window."""
    e164 = f"+1305{number:07d}"
    import redis

    from tests.test_frequency import HASH

    admin = redis.Redis.from_url(frq_redis.url)
    admin.delete(*(f"callguard:freq:{{{HASH(e164)}}}:{c.subject}" for c in (SELLER, TOPIC)))

    async def run() -> list[tuple[datetime, bool]]:
        nodes = [redis_node(frq_redis.url), redis_node(frq_redis.url)]
        kept: list[tuple[datetime, bool]] = []
        minutes = 0

        async def one(node: int, at: datetime, topic: bool, withdraw: bool) -> None:
            claims = [SELLER, TOPIC] if topic else [SELLER]
            result = await nodes[node].reserve(e164, claims, at)
            if not result.granted:
                return
            if withdraw:
                assert result.held is not None
                assert await nodes[node].release(e164, result.held) == len(claims)
            else:
                kept.append((at, topic))

        try:
            batch = []
            for node, gap, jitter, topic, withdraw in steps:
                minutes += gap
                batch.append(one(node, NOON + timedelta(minutes=max(0, minutes + jitter)),
                                 topic, withdraw))
                if len(batch) == 4:
                    await asyncio.gather(*batch)
                    batch = []
            await asyncio.gather(*batch)
        finally:
            for node in nodes:
                await node.aclose()
        return kept

    kept = asyncio.run(run())
    _kept_within(kept, SELLER, topic_only=False)
    _kept_within(kept, TOPIC, topic_only=True)
