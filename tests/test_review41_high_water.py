"""Review of the Redis record store's high-water mark (high_water.py), on a real
redis-server: the acknowledgement's wait when the mark was lowered under it, a read sent
before ``records-accept-older`` answered after it, and a restored store whose counter a
writer with a lower mark pushes back past the mark (47 CFR 64.1200(d)(3))."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis.high_water import HIGH_WATER_FILE, SEQ_KEY, HighWater, write_high_water
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE
from callguard.stores.writes import AddCompanyDnc

SELLER = "beehive-solar"
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def _store(url: str, data: Path) -> RedisRecords:
    data.mkdir(exist_ok=True)
    return RedisRecords(aioredis.from_url(url, socket_timeout=2), RecordsSettings(),
                        remember=data / MARKER_FILE)


def _dnc(number: str) -> AddCompanyDnc:
    return AddCompanyDnc(SELLER, number, T0, "agent")


async def test_an_acknowledgement_past_a_lowered_mark_is_refused_not_awaited_forever(
        tmp_path):
    """``kept(upto)`` with the mark lowered below ``upto`` (``records-accept-older`` while
    a write waited for WAIT): the file will never hold ``upto``; it spun forever (the
    write never answered, the event loop busy), now it refuses the acknowledgement."""
    high = HighWater(tmp_path / HIGH_WATER_FILE)
    high.load("m")
    high.seen(5)
    await high.kept(5)
    with pytest.raises(StoreError, match="not acknowledged"):
        await asyncio.wait_for(high.kept(9), 2)


async def test_a_read_sent_before_the_store_was_accepted_raises_no_alarm(tmp_path,
                                                                         redis_server):
    """The operator accepted the older store; a read sent before (its mark the old one)
    answered after must not take the accepted store for a restore again: a false
    ``records_store_behind`` alarm (and ``went_back``) right after the acceptance."""
    admin = aioredis.from_url(redis_server.url)
    node = _store(redis_server.url, tmp_path / "a")
    await node.start()
    try:
        for n in range(3):
            await node.apply([_dnc(f"+1801555019{n}")])
        old_mark = node._high.known
        await admin.set(SEQ_KEY, 1)  # restored from an older backup
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, "+18015550190")
        await node._high.flush()  # the refusal kept (the CLI below is another process)
        write_high_water(tmp_path / "a" / HIGH_WATER_FILE, node.marker, 1)  # accepted
        await node.recheck()
        assert node.behind is None
        node.seq_seen(b"1", old_mark)  # the answer to a read sent before the acceptance
        assert node.behind is None
        assert node.went_back == 1
    finally:
        await node.aclose()
        await admin.aclose()


async def test_a_restored_store_rewritten_past_the_mark_is_still_refused(tmp_path,
                                                                         redis_server):
    """Node A recorded an opt-out; Redis is restored from an older backup (the opt-out
    gone); a CLI on another data dir (a nightly import, its mark from yesterday) writes
    on: the counter passes A's mark, A takes it for the newest backup restored, and the
    number whose opt-out was lost is read as "none". The ids (high_water.py) tell: the
    store's id for A's mark is the import's, another history."""
    admin = aioredis.from_url(redis_server.url)
    cron, node = _store(redis_server.url, tmp_path / "cron"), _store(redis_server.url,
                                                                      tmp_path / "a")
    await cron.start()
    await cron.apply([_dnc("+18015550150")])
    await cron.aclose()
    await node.start()
    try:
        await node.apply([_dnc("+18015550151")])  # the opt-out
        await admin.set(SEQ_KEY, 1)  # the restore: the counter and the opt-out back
        await admin.delete(f"callguard:rec:{SELLER}:+18015550151")
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, "+18015550151")
        cron = _store(redis_server.url, tmp_path / "cron")
        await cron.start()  # its mark (1) is not above the store's
        await cron.apply([_dnc("+18015550152")])
        await cron.apply([_dnc("+18015550153")])
        await cron.aclose()
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, "+18015550151")
    finally:
        await node.aclose()
        await admin.aclose()
