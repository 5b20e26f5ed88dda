"""The alive file of a sole follower across a wall-clock step (examiner hami19).

A restarted node bounds the delay of what it releases by the time nobody watched,
read from the alive file (``SoleFollower.last_seen``). This machine's clock is
unsynchronised; one stepped back while the node was away made the gap read shorter.
"""

from __future__ import annotations

import time

from callguard.watchdog import lease
from callguard.watchdog.lease import SoleFollower


async def test_a_wall_clock_stepped_back_while_away_does_not_shorten_the_gap(
        tmp_path, monkeypatch):
    """Written while the wall clock ran 100 s ahead (then corrected), 1 s ago by the boot
    clock: the last watching moment is read ~1 s ago on today's clock, not 100 s ahead
    (which bounded every release after the restart at ~0 s)."""
    alive = SoleFollower(tmp_path / "alive")
    real = time.time
    monkeypatch.setattr(lease.time, "time", lambda: real() + 100)
    await alive.hold()
    monkeypatch.setattr(lease.time, "time", real)
    time.sleep(1.0)
    seen = await alive.last_seen()
    assert seen is not None
    assert 0.9 <= time.time() - seen < 3, time.time() - seen


async def test_another_boot_or_an_old_file_falls_back_to_the_wall_clock(tmp_path):
    path = tmp_path / "alive"
    path.write_text("1733490000.000\n")  # written by an earlier version
    assert await SoleFollower(path).last_seen() == 1733490000.0
    path.write_text("1733490000.000 not-this-boot 12.5\n")
    assert await SoleFollower(path).last_seen() == 1733490000.0
    path.write_text("garbage\n")
    assert await SoleFollower(path).last_seen() is None


async def test_the_shared_lease_reads_the_time_away_on_one_clock(redis_server, monkeypatch):
    """Node A renews on a clock 100 s ahead and dies; node B (a right clock) starts: the
    gap since A last watched was read across the two clocks, 100 s short — B bounded the
    delays of what it released at ~0 s. Both now go by the Redis server's clock."""
    from redis import asyncio as aioredis

    from callguard.watchdog.lease import RedisLease

    a, b = (RedisLease(aioredis.from_url(redis_server.url, socket_timeout=1),
                       asterisk="127.0.0.1:5038", node=name, ttl_ms=600)
            for name in ("node-a", "node-b"))
    try:
        real = time.time
        monkeypatch.setattr(lease.time, "time", lambda: real() + 100)
        assert await a.hold() is lease.Holding.HELD
        monkeypatch.setattr(lease.time, "time", real)
        time.sleep(0.5)
        seen = await b.last_seen()
        assert seen is not None
        assert 0.4 <= time.time() - seen < 3, time.time() - seen
    finally:
        await a.aclose()
        await b.aclose()
