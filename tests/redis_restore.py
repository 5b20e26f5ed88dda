"""A Redis record store written, backed up and restored, for the tests of its marks
(``callguard/stores/redis/high_water.py``) on a real redis-server.

A backup is every key's DUMP; a restore is FLUSHALL and RESTORE of each: what Redis
restarted on an older RDB/AOF copy holds, or what a promoted replica holds after a
failover (the nodes keep their connections)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from redis import asyncio as aioredis

from callguard.stores.redis.records import RecordsSettings, RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE
from callguard.stores.writes import AddCompanyDnc

SELLER = "beehive-solar"
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
LOST = "+18015550171"  # the opt-out the restore (or the failover) loses


def records_store(url: str, data: Path, settings: RecordsSettings | None = None, *,
                  timeout: float = 2) -> RedisRecords:
    """A node's (or a CLI's) record store on its own data dir ``data``."""
    data.mkdir(exist_ok=True)
    return RedisRecords(aioredis.from_url(url, socket_timeout=timeout),
                        settings or RecordsSettings(), remember=data / MARKER_FILE)


def dnc(number: str) -> AddCompanyDnc:
    """The seller's do-not-call entry for ``number`` (an opt-out)."""
    return AddCompanyDnc(SELLER, number, T0, "agent")


async def dump_all(admin: aioredis.Redis) -> dict[bytes, bytes]:
    """A backup: every key's DUMP."""
    return {key: await admin.dump(key) for key in await admin.keys("*")}


async def restore_all(admin: aioredis.Redis, backup: dict[bytes, bytes]) -> None:
    """Redis back on ``backup``: FLUSHALL, then every key RESTOREd."""
    await admin.flushall()
    for key, value in backup.items():
        await admin.restore(key, 0, value)


async def write_each(url: str, data: Path, *numbers: str,
                     settings: RecordsSettings | None = None, timeout: float = 2) -> None:
    """Another writer on its own data dir (the nightly import, another node): one batch
    per number, then closed."""
    writer = records_store(url, data, settings, timeout=timeout)
    await writer.start()
    try:
        for number in numbers:
            await writer.apply([dnc(number)])
    finally:
        await writer.aclose()
