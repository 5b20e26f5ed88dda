"""Two deltas of one list applied to the same base and published one after the other (two
``dnc import --delta-base`` run at once, each read the base before either published): the
second must be refused, never made current (helper hsto21). Before: both were published,
the second as the base plus its own changes — the first's additions, acknowledged as
listed ("published ut-state v3"), were gone and their numbers ALLOWed (a state do-not-call
list, Utah Code 13-25a-103 / Fla. Stat. 501.059). Real files, a real redis-server."""

from __future__ import annotations

from datetime import date

import pytest
from pyroaring import FrozenBitMap

from callguard.errors import StoreError
from callguard.stores.embedded.lists import load_version, write_version
from callguard.stores.list_chunks import BitmapSnapshot, apply_delta
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.lists import RedisListPublisher
from tests.test_frequency import aioredis_client

NAME = "ut-state"
PUBLISHED = date(2026, 12, 2)
BASE = 5_550_100  # 801-555-0100 .. 0109 listed in the base
FIRST, SECOND = 5_550_201, 5_550_202  # each delta's addition (area 801)


def _parsed(*lines: int) -> ParsedList:
    return ParsedList(by_area={801: list(lines)})


def _two_deltas(base: BitmapSnapshot):
    return (apply_delta(base, _parsed(FIRST), _parsed(BASE)),
            apply_delta(base, _parsed(SECOND), _parsed(BASE + 1)))


def test_embedded_a_second_delta_on_a_base_no_longer_current_is_refused(tmp_path):
    write_version(tmp_path, NAME, _parsed(*range(BASE, BASE + 10)), published=PUBLISHED,
                  area_codes=None, source="base")
    base = load_version(tmp_path, NAME, 1)
    assert isinstance(base, BitmapSnapshot)
    first, second = _two_deltas(base)
    meta = write_version(tmp_path, NAME, first, published=PUBLISHED, area_codes=None,
                         source="delta a")
    assert meta.version == 2
    with pytest.raises(StoreError, match="no longer the current"):  # before: v3 published
        write_version(tmp_path, NAME, second, published=PUBLISHED, area_codes=None,
                      source="delta b")
    current = (tmp_path / "lists" / NAME / "CURRENT").read_text().strip()
    assert current == "2"
    served = load_version(tmp_path, NAME, 2)
    assert isinstance(served, BitmapSnapshot)
    assert FIRST in served.chunks[801]  # the first delta's addition still listed


async def test_redis_a_second_delta_on_a_base_no_longer_current_is_refused(redis_server):
    client = aioredis_client(redis_server.url)
    publisher = RedisListPublisher(client)
    try:
        meta = await publisher.publish(NAME, _parsed(*range(BASE, BASE + 10)),
                                       published=PUBLISHED, area_codes=None, source="base")
        base = BitmapSnapshot(meta, {801: FrozenBitMap(range(BASE, BASE + 10))})
        first, second = _two_deltas(base)
        made = await publisher.publish(NAME, first, published=PUBLISHED, area_codes=None,
                                       source="delta a")
        with pytest.raises(StoreError, match="no longer the current"):  # before: published
            await publisher.publish(NAME, second, published=PUBLISHED, area_codes=None,
                                    source="delta b")
        assert int(await client.get(f"callguard:list:{NAME}:current")) == made.version
        # its chunks were not left behind
        assert not await client.keys(f"callguard:list:{NAME}:v{made.version + 1}:*")
    finally:
        await client.aclose()
