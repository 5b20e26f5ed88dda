"""The lists' sync with Redis: bounded, seen when it stalls, and run every 30 s (hsto23).

A Redis that accepts but stops answering (a paused or swapping server, a half-open link):
the list client had no ``socket_timeout``, so a sync waited on it without end — the node
went on deciding on its copies, never refreshed, and nothing said so; `dnc status` hung.
Shown here with a real redis-server paused by SIGSTOP (and resumed by SIGCONT): each
command is now bounded, a stalled sync reads on ``/readyz`` (``list_sync``), in
``callguard_list_sync_age_seconds`` and in the log (``list_sync_stalled``, then
``list_sync_resumed``), and `dnc status` exits "Redis is unreachable" instead of hanging.

And the follower's full sync (every 30 s: a FLUSHALL announces nothing) waited 30 s after
the last announcement, so announcements more often than that kept it from ever running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog
from prometheus_client import generate_latest
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.config import load_settings
from callguard.runtime import open_runtime
from callguard.stores.redis.lists import CHANNEL, LIST_SOCKET_SECONDS, RedisListRegistry
from tests.serve_node import ServeNode
from tests.test_redis_lists import bounded, connect, publish, wait_for


@contextmanager
def paused(server) -> Iterator[None]:
    """The redis-server process stopped (it keeps its port: connections are accepted by
    the kernel and never answered), resumed on the way out whatever happens."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


async def test_the_runtime_s_list_client_gives_up_on_a_paused_redis_and_readyz_says_so(
        redis_server, tmp_path) -> None:
    """The registry ``open_runtime`` builds: its sync against a paused Redis fails within
    the bound (before: waited for ever — ``bounded`` said "stuck"), and once no full sync
    has completed for long, /readyz's ``list_sync`` check and the metric say it."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    settings = dataclasses.replace(load_settings(data_dir=tmp_path), lists_backend="redis",
                                   redis_url=redis_server.url)
    runtime = open_runtime(settings)
    node = runtime.lists
    assert isinstance(node, RedisListRegistry)
    now = [1000.0]
    node._clock = lambda: now[0]  # synthetic: the stall is judged on it
    try:
        await bounded(node.sync(), "the first sync")
        checks = {c.name: c for c in await runtime.readiness().run()}
        assert checks["list_sync"].ok, checks["list_sync"]
        with paused(redis_server):
            started = time.monotonic()
            with pytest.raises(RedisError):
                await bounded(node.sync(), "a sync against a paused Redis",
                              seconds=LIST_SOCKET_SECONDS + 10)
            assert time.monotonic() - started < LIST_SOCKET_SECONDS + 5
            now[0] += 100  # no full sync for 100 s
            checks = {c.name: c for c in await bounded(runtime.readiness().run(),
                                                       "readiness", seconds=15)}
            assert not checks["list_sync"].ok
            detail = checks["list_sync"].detail
            for part in ("do not follow Redis", "100 s ago", "Timeout", "national v1"):
                assert part in detail, detail
            assert node.snapshot("national").contains(8015550101)  # still decides on it
            metrics = generate_latest(runtime.metrics.registry).decode()
            assert "callguard_list_sync_age_seconds 100.0" in metrics, metrics
        await bounded(node.sync(), "a sync once Redis answers again")
        checks = {c.name: c for c in await runtime.readiness().run()}
        assert checks["list_sync"].ok, checks["list_sync"]
    finally:
        await bounded(runtime.aclose(), "closing the runtime", seconds=15)
        await bounded(client.aclose(), "closing the client")


async def test_a_follower_held_by_a_paused_redis_says_so_once_then_says_it_resumed(
        redis_server) -> None:
    """The follower (real clock, short periods): the stall is logged once, the copy still
    serves, and a Redis resumed is followed again (an import made meanwhile is loaded)."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    follower = aioredis.from_url(redis_server.url, socket_timeout=0.3,
                                 socket_connect_timeout=0.3)
    node = RedisListRegistry(follower, retry_seconds=0.1, check_seconds=0.2,
                             stalled_seconds=1.0)
    with structlog.testing.capture_logs() as logs:
        await node.start()
        try:
            assert node.sync_problem() is None
            with paused(redis_server):
                await wait_for(lambda: any(e["event"] == "list_sync_stalled" for e in logs),
                               timeout=10)
                assert node.sync_problem() is not None
                assert node.snapshot("national").contains(8015550101)
            await wait_for(lambda: any(e["event"] == "list_sync_resumed" for e in logs),
                           timeout=10)
            await publish(client, [8015550202])
            await wait_for(lambda: node.snapshot("national").meta.version == 2, timeout=5)
            assert node.sync_problem() is None
        finally:
            await bounded(node.close(), "closing the node")
            await bounded(follower.aclose(), "closing the follower's client")
            await bounded(client.aclose(), "closing the client")
    stalled = [e for e in logs if e["event"] == "list_sync_stalled"]
    assert len(stalled) == 1, stalled  # said once, not at every look
    assert stalled[0]["lists"] == {"national": 1}


def test_dnc_status_against_a_paused_redis_exits_instead_of_hanging(redis_server,
                                                                     tmp_path) -> None:
    """`dnc status` (its client had no timeout: it waited for ever)."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_lists=True)
    with paused(redis_server):
        started = time.monotonic()
        try:
            result = node.cli("dnc", "status", timeout=LIST_SOCKET_SECONDS + 20)
        except subprocess.TimeoutExpired:
            pytest.fail("`dnc status` hung on a paused Redis")
        assert time.monotonic() - started < LIST_SOCKET_SECONDS + 15
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Redis is unreachable" in result.stderr, result.stderr
    assert "Timeout" in result.stderr, result.stderr


async def _following(client) -> None:
    """Until the node subscribed (its first full sync follows at once), then a little more."""
    for _ in range(100):
        if (await client.pubsub_numsub(CHANNEL))[0][1] == 1:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the node never subscribed")
    await asyncio.sleep(0.2)


async def _announce_often(client, stop: asyncio.Event, tick=None) -> None:
    """Announce another list every 0.05 s (``tick`` called before each)."""
    while not stop.is_set():
        if tick is not None:
            tick()
        await client.publish(CHANNEL, "other-list:1")
        await asyncio.sleep(0.05)


async def test_the_full_sync_runs_whatever_the_announcement_rate(redis_server) -> None:
    """A FLUSHALL under a node that gets announcements every 0.05 s, its full sync every
    0.5 s: said within a few seconds (before: never, each announcement put it off)."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1, check_seconds=0.5)
    await node.start()
    await _following(client)
    stop = asyncio.Event()
    task = asyncio.ensure_future(_announce_often(client, stop))
    try:
        await asyncio.sleep(0.2)
        with structlog.testing.capture_logs() as logs:
            await client.flushall()
            await wait_for(lambda: any(e["event"] == "list_gone_from_redis" for e in logs),
                           timeout=4)
    finally:
        stop.set()
        await bounded(task, "the announcer")
        await bounded(node.close(), "closing the node")
        await bounded(client.aclose(), "closing the client")


async def test_the_full_sync_runs_every_30_s_on_a_synthetic_clock(redis_server) -> None:
    """The same on the default 30 s, on a synthetic clock: 10 s pass at every
    announcement; the FLUSHALL is said once 30 s have passed, not before."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    now = [0.0]
    node = RedisListRegistry(connect(redis_server.url), clock=lambda: now[0])
    await node.start()
    await _following(client)  # subscribed, its first full sync done at t=0
    stop = asyncio.Event()
    seen: list[float] = []

    def tick() -> None:
        if not seen and "national" in node._gone:
            seen.append(now[0])
        now[0] += 10

    try:
        await client.flushall()
        task = asyncio.ensure_future(_announce_often(client, stop, tick))
        try:
            await wait_for(lambda: "national" in node._gone, timeout=4)
        finally:
            stop.set()
            await bounded(task, "the announcer")
        await asyncio.sleep(0.2)
        tick()
        assert seen, now
        assert 30 <= seen[0] <= 60, (seen, now)
    finally:
        await bounded(node.close(), "closing the node")
        await bounded(client.aclose(), "closing the client")
