"""The shared lease's "last seen" when the Redis server's clock is not one clock (hrev64).

hami19 wrote and read ``callguard:watchdog:seen`` on the Redis server's clock (TIME).
Behind a failover (Sentinel, a managed Redis promoting its replica) the key is written on
the old master's clock and read on the new one's: a new master whose clock is behind
made the time away read short (clamped to 0), every release after the restart bounded
by ~0 s — a false "within the limit". The writer's own wall clock is kept beside it and
the longer of the two gaps is taken: too long is the safe side of a bound, too short is
not.
"""

from __future__ import annotations

import time

from callguard.watchdog import lease
from callguard.watchdog.lease import RedisLease


def _lease(url: str, name: str) -> RedisLease:
    from redis import asyncio as aioredis

    return RedisLease(aioredis.from_url(url, socket_timeout=1),
                      asterisk="127.0.0.1:5038", node=name, ttl_ms=600)


async def test_a_new_master_whose_clock_is_behind_does_not_shorten_the_gap(redis_server):
    """Node A renews (the old master's clock 100 s ahead of the new one's), Redis fails
    over, node A dies; 0.5 s later node B reads how long nobody watched."""
    a, b = _lease(redis_server.url, "node-a"), _lease(redis_server.url, "node-b")
    key = "callguard:watchdog:seen:127.0.0.1:5038"
    try:
        assert await a.hold() is lease.Holding.HELD
        raw = (await a._client.get(key)).decode()
        server, space, rest = raw.partition(" ")
        # as the old master wrote it: its clock 100 s ahead of the new master's
        await a._client.set(key, f"{float(server) + 100:.6f}{space}{rest}")
        time.sleep(0.5)
        seen = await b.last_seen()
        assert seen is not None
        assert 0.4 <= time.time() - seen < 3, time.time() - seen
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_value_of_one_field_is_read_the_longer_way(redis_server, monkeypatch):
    """A single number (an earlier version's: hami19's on the server's clock, older ones on
    the writer's wall clock) is read as whichever gap is longer, not trusted to be one."""
    b = _lease(redis_server.url, "node-b")
    key = "callguard:watchdog:seen:127.0.0.1:5038"
    try:
        # the server's clock now (hami19's), or a writer's wall clock 50 s behind ours
        await b._client.set(key, f"{time.time():.6f}")
        real = time.time
        monkeypatch.setattr(lease.time, "time", lambda: real() + 50)
        seen = await b.last_seen()
        assert seen is not None
        assert lease.time.time() - seen >= 49, lease.time.time() - seen
    finally:
        await b.aclose()


async def test_the_alive_file_takes_the_longer_of_the_boot_and_wall_gaps(tmp_path):
    """Same boot, but the boot clock counts 1 s away while the wall clock counts 100 s: a
    guest paused by its hypervisor (live migration, a snapshot) stops CLOCK_BOOTTIME with
    it, and NTP puts the wall clock right on resume. The boot clock alone bounded the
    releases after the restart by ~1 s. The longer gap is the safe side of a bound."""
    from callguard.watchdog.lease import SoleFollower

    boot = lease._boot_id()
    if not boot:
        return  # no boot id here: the wall clock alone is read
    path = tmp_path / "alive"
    path.write_text(f"{time.time() - 100:.3f} {boot} {lease._boottime() - 1:.3f}\n")
    seen = await SoleFollower(path).last_seen()
    assert seen is not None
    assert time.time() - seen >= 99, time.time() - seen
