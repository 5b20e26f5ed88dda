"""The Redis record store's high-water mark (high_water.py) in process, on a real
redis-server: several nodes on one Redis, a write on a store gone back, the remembered
file. A store restored from an older backup is the same store (its marker is in the
backup) with fewer records: a do-not-call request recorded since is gone (47 CFR
64.1200(d)(3))."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis.high_water import HIGH_WATER_FILE, SEQ_KEY, read_high_water
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


async def test_a_node_down_while_others_wrote_is_not_fooled_into_refusing(tmp_path,
                                                                          redis_server):
    """Node B stops; node A writes on; B starts again on the higher counter: it serves."""
    a, b = _store(redis_server.url, tmp_path / "a"), _store(redis_server.url, tmp_path / "b")
    await a.start()
    await b.start()
    await b.apply([_dnc("+18015550170")])
    await b.aclose()
    for n in range(5):
        await a.apply([_dnc(f"+1801555018{n}")])
    again = _store(redis_server.url, tmp_path / "b")
    await again.start()
    try:
        assert await again.company_dnc(SELLER, "+18015550184") is not None
        assert again.behind is None
        assert await again.verify() is None
    finally:
        await again.aclose()
        await a.aclose()


async def test_every_node_refuses_a_counter_gone_back_and_writes_nothing(tmp_path,
                                                                         redis_server):
    """The counter set back (what a restore does): reads and writes refused with the fix,
    on a node that wrote and on one that only read; nothing written by the refused write;
    the counter back at the mark (the newest backup restored) serves again."""
    admin = aioredis.from_url(redis_server.url)
    a, b = _store(redis_server.url, tmp_path / "a"), _store(redis_server.url, tmp_path / "b")
    await a.start()
    await b.start()
    try:
        await a.apply([_dnc("+18015550171")])
        await a.apply([_dnc("+18015550172")])
        assert await b.company_dnc(SELLER, "+18015550172") is not None  # B saw 2
        top = await admin.get(SEQ_KEY)
        await admin.set(SEQ_KEY, 1)
        await admin.delete(f"callguard:rec:{SELLER}:+18015550172")  # lost in the restore
        for node in (a, b):
            with pytest.raises(StoreError, match="older than one this node already used"):
                await node.company_dnc(SELLER, "+18015550172")
            assert node.went_back == 1
            with pytest.raises(StoreError, match="Restore the newest backup"):
                await node.apply([_dnc("+18015550173")])
            assert await node.verify() is not None  # /readyz
        assert await admin.exists(f"callguard:rec:{SELLER}:+18015550173") == 0
        assert await admin.get(SEQ_KEY) == b"1"

        await admin.set(SEQ_KEY, top)  # the newest backup restored
        await a.recheck()
        assert a.behind is None
        assert await a.company_dnc(SELLER, "+18015550171") is not None
    finally:
        await a.aclose()
        await b.aclose()
        await admin.aclose()


async def test_the_mark_is_on_disk_when_a_write_is_acknowledged(tmp_path, redis_server):
    """A node that crashes right after its acknowledgement still knows the mark."""
    node = _store(redis_server.url, tmp_path / "a")
    await node.start()
    try:
        await node.apply([_dnc("+18015550174")])
        await node.apply([_dnc("+18015550175")])
        saved = orjson.loads((tmp_path / "a" / HIGH_WATER_FILE).read_bytes())
        assert saved["seq"] == int(await node._client.get(SEQ_KEY))
        assert saved["marker"] == node.marker
    finally:
        await node._client.aclose()  # no flush at close: the acknowledgement waited


async def test_a_restart_on_a_store_gone_back_refuses_from_the_first_call(tmp_path,
                                                                          redis_server):
    node = _store(redis_server.url, tmp_path / "a")
    await node.start()
    await node.apply([_dnc("+18015550176")])
    await node.aclose()
    admin = aioredis.from_url(redis_server.url)
    await admin.delete(SEQ_KEY)  # a backup from before the counter existed: 0
    again = _store(redis_server.url, tmp_path / "a")
    await again.start()
    try:
        with pytest.raises(StoreError, match="older than one this node"):
            await again.company_dnc(SELLER, "+18015550176")
    finally:
        await again.aclose()
        await admin.aclose()


def test_a_damaged_or_foreign_mark_file(tmp_path):
    path = tmp_path / HIGH_WATER_FILE
    assert read_high_water(path, "m") == 0
    path.write_text('{"marker": "m", "seq": 7}\n')
    assert read_high_water(path, "m") == 7
    assert read_high_water(path, "another store") == 0  # an accepted new store starts anew
    for bad in ("", "{", '{"marker": "m", "seq": -1}', '{"marker": "m", "seq": "7"}', "[]"):
        path.write_text(bad)
        with pytest.raises(StoreError, match=r"damaged.*records-accept-older"):
            read_high_water(path, "m")


async def test_reads_answered_after_concurrent_writes_are_not_taken_for_a_restore(
        tmp_path, redis_server):
    """A read sent before a write on another connection may be answered after it, with
    the lower counter: judged against the mark at sending, it is no restore (judged
    against the mark now, calls were BLOCKed and the alarm raised under load)."""
    node = _store(redis_server.url, tmp_path / "a")
    await node.start()
    try:
        async def read(n: int) -> None:
            await node.company_dnc(SELLER, f"+180155502{n:02d}")

        async def write(n: int) -> None:
            await node.apply([_dnc(f"+180155502{n:02d}")])

        for _ in range(5):
            await asyncio.gather(*(f(n) for n in range(40) for f in (read, write)))
        assert node.went_back == 0
        assert node.behind is None
    finally:
        await node.aclose()
