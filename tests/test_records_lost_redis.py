"""A Redis record store that lost its data while the node was down is in the lost state at
start, not adopted (callguard/stores/redis/remembered.py), against a real redis-server.

main: the node noticed a flushed server while it ran, but a node (re)started on it wrote a
fresh marker and read an opt-out made before the loss as "none" (47 CFR 64.1200(d)(3)).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis.high_water import SEQ_KEY
from callguard.stores.redis.records import MARKER_KEY, RecordsSettings, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE, rely_on
from callguard.stores.writes import AddCompanyDnc

SELLER, NUMBER = "beehive-solar", "+18015550142"
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def test_rely_on_the_remembered_marker_first():
    assert rely_on(None, "s") == ("s", True)
    assert rely_on(None, None) == (None, False)
    assert rely_on("r", None) == ("r", False)
    assert rely_on("r", "s") == ("r", False)


async def test_a_server_flushed_while_the_node_was_down_is_lost_at_start(tmp_path,
                                                                          redis_server):
    remember = tmp_path / MARKER_FILE

    def store() -> RedisRecords:
        return RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                            RecordsSettings(), remember=remember)

    first = store()
    await first.start()
    try:
        await first.apply([AddCompanyDnc(SELLER, NUMBER, T0, "agent")])
    finally:
        await first.aclose()
    assert remember.read_text().strip()
    admin = aioredis.from_url(redis_server.url)
    marker, seq = await admin.mget(MARKER_KEY, SEQ_KEY)
    await admin.flushall()

    again = store()
    await again.start()
    try:
        with pytest.raises(StoreError, match=f"lost its data.*remove .*{MARKER_FILE}, "
                                             "re-import .*then restart"):
            await again.company_dnc(SELLER, NUMBER)
        with pytest.raises(StoreError, match="lost its data"):
            await again.apply([AddCompanyDnc(SELLER, "+18015550143", T0, "agent")])
        assert await again.verify() is not None  # /readyz's records_durability
        assert await admin.get(MARKER_KEY) is None  # no fresh marker written over the loss
        await admin.mset({MARKER_KEY: marker, SEQ_KEY: seq})  # the AOF restored: serving
        await again.recheck()
        assert await again.company_dnc(SELLER, NUMBER) is None  # (its record was flushed)
    finally:
        await again.aclose()

    await admin.flushall()
    node = store()  # lost again; the operator accepts the empty server as the message says
    await node.start()
    try:
        remember.unlink()
        cli = store()  # a re-import from the same data dir: accepted, written
        await cli.start()
        try:
            await cli.apply([AddCompanyDnc(SELLER, NUMBER, T0, "import")])
        finally:
            await cli.aclose()
        assert remember.read_text().strip() == (await admin.get(MARKER_KEY)).decode()
        with pytest.raises(StoreError, match="lost its data"):  # until it restarts
            await node.company_dnc(SELLER, NUMBER)
    finally:
        await node.aclose()
    restarted = store()
    await restarted.start()
    try:
        assert await restarted.company_dnc(SELLER, NUMBER) is not None
    finally:
        await restarted.aclose()
        await admin.aclose()


def test_a_node_restarted_on_a_flushed_server_blocks_and_is_not_ready(tmp_path, redis_server):
    """`callguard serve`, records in Redis: an opt-out, the node stopped, the server
    flushed (no data, no marker), the node started again: main adopted a fresh marker,
    ALLOWed the opted-out number and said ready."""
    import redis

    from tests.serve_node import AT, ServeNode, write_lists

    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    write_lists(node.data, [8015550199])
    node.start()
    optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
    check = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
    try:
        assert node.json("/v1/opt-out", optout)[0] == 200
        assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
    finally:
        node.stop()
    redis.Redis.from_url(redis_server.url).flushall()
    node.start()
    try:
        decision = node.json("/v1/check", check)[1]
        assert decision["verdict"] == "BLOCK", decision
        assert decision["rule"] == "callguard:store-unavailable", decision
        assert "lost its data" in decision["reason"]
        status, ready = node.json("/readyz", token=None)
        assert status == 503, ready
        assert node.json("/v1/opt-out", optout)[0] == 503
    finally:
        node.stop()


def test_show_refuses_a_server_that_is_not_the_one_the_data_dir_remembers(tmp_path,
                                                                          redis_server):
    """`internal-dnc show` reads Redis without starting the store: it checked only that a
    marker exists, so after a flush and a fresh marker (a new node, a CLI from another data
    dir) the opt-out made before read as "none" while the node itself refused."""
    import redis

    from tests.serve_node import ServeNode, write_lists

    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    write_lists(node.data, [8015550199])
    node.start()
    try:
        optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
        assert node.json("/v1/opt-out", optout)[0] == 200
    finally:
        node.stop()
    show = ("internal-dnc", "show", "8015550142", "--campaign", "ut-solar-manual")
    assert node.cli(*show).returncode == 0
    admin = redis.Redis.from_url(redis_server.url)
    admin.flushall()
    admin.set(MARKER_KEY, "another-nodes-fresh-marker")
    shown = node.cli(*show)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert "lost its data" in shown.stderr
    assert MARKER_FILE in shown.stderr
