"""Review of the Redis record store's ids (high_water.py), on a real redis-server: a node
that refuses a restored store must keep refusing across a restart, also once the store no
longer holds an id for its mark (trimmed ``ID_WINDOW`` writes later), or the lost
do-not-call request reads as "none" and the call is ALLOWed (47 CFR 64.1200(d)(3))."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis.high_water import (
    HIGH_WATER_FILE,
    ID_WINDOW,
    IDS_KEY,
    SEQ_KEY,
    check_not_behind,
    check_store_not_behind,
    read_mark,
    read_state,
    write_high_water,
)
from callguard.stores.redis.records import RecordsSettings, RedisRecords
from tests.redis_restore import LOST, SELLER, dnc, dump_all, records_store, restore_all, write_each


async def _diverged_then_trimmed(url: str, tmp_path: Path,
                                 admin: aioredis.Redis) -> tuple[RedisRecords, int]:
    """Node A records LOST; Redis is restored from the backup before it and the import
    writes past A's mark: A refuses (another id for its mark). Then ``ID_WINDOW`` more
    writes drop the store's id for A's mark: A, still running, still refuses."""
    await write_each(url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = records_store(url, tmp_path / "a")
    await node.start()
    await node.apply([dnc(LOST)])
    mark = node._high.known
    await restore_all(admin, backup)
    await write_each(url, tmp_path / "cron", "+18015550172", "+18015550173")
    with pytest.raises(StoreError, match="older than one this node"):
        await node.company_dnc(SELLER, LOST)
    await admin.set(SEQ_KEY, mark + ID_WINDOW - 1)  # as if that many writes were made
    await write_each(url, tmp_path / "cron", "+18015550174")  # drops the id for A's mark
    assert await admin.hexists(IDS_KEY, str(mark)) == 0
    with pytest.raises(StoreError, match="older than one this node"):
        await node.company_dnc(SELLER, LOST)  # refusing: stays refused (2041d74)
    return node, mark


async def test_a_refusing_node_restarted_after_its_mark_id_is_trimmed_still_refuses(
        tmp_path, redis_server):
    """README: "a restart does not clear it". The refusal of another history was held in
    memory only: restarted once the store had dropped the id for its mark, the node could
    not tell any more, served the store, and read the lost opt-out as "none" (ALLOW)."""
    admin = aioredis.from_url(redis_server.url)
    node, _ = await _diverged_then_trimmed(redis_server.url, tmp_path, admin)
    await node.aclose()
    assert orjson.loads((tmp_path / "a" / HIGH_WATER_FILE).read_bytes())["refusing"] is True
    again = records_store(redis_server.url, tmp_path / "a")
    await again.start()
    try:
        assert again.behind is not None
        with pytest.raises(StoreError, match="older than one this node"):
            await again.company_dnc(SELLER, LOST)
        with pytest.raises(StoreError, match="older than one this node"):
            await again.apply([dnc("+18015550175")])
        assert await again.verify() is not None  # /readyz not ready
    finally:
        await again.aclose()
        await admin.aclose()


async def test_the_cli_reader_on_a_refusing_data_dir_refuses_too(tmp_path, redis_server):
    """``internal-dnc show`` / ``evidence`` on the refusing node's data dir (the same
    mark file) read the store "as the newest" once the id was gone."""
    admin = aioredis.from_url(redis_server.url)
    node, _ = await _diverged_then_trimmed(redis_server.url, tmp_path, admin)
    await node.aclose()
    try:
        with pytest.raises(StoreError, match="cannot be trusted"):
            await check_store_not_behind(admin, tmp_path / "a", node.marker)
    finally:
        await admin.aclose()


async def test_the_kept_refusal_clears_with_the_newest_backup_or_an_acceptance(
        tmp_path, redis_server):
    """The refusal the file keeps is no new lock: the newest backup restored (the node's own
    id back) clears it at the next start and the file no longer says it; an acceptance
    (``records-accept-older`` writes the store's mark) clears a running node, and the
    node does not write its refusal back over it."""
    admin = aioredis.from_url(redis_server.url)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    node = records_store(redis_server.url, tmp_path / "a")
    await node.start()
    await node.apply([dnc(LOST)])
    newest = await dump_all(admin)
    await restore_all(admin, backup)
    await write_each(redis_server.url, tmp_path / "cron", "+18015550172", "+18015550173")
    with pytest.raises(StoreError, match="older than one this node"):
        await node.company_dnc(SELLER, LOST)
    await node.aclose()
    path = tmp_path / "a" / HIGH_WATER_FILE
    assert orjson.loads(path.read_bytes())["refusing"] is True
    await restore_all(admin, newest)
    again = records_store(redis_server.url, tmp_path / "a")
    await again.start()
    try:
        assert again.behind is None
        assert await again.company_dnc(SELLER, LOST) is not None
        await again._high.flush()
        assert "refusing" not in orjson.loads(path.read_bytes())
        await restore_all(admin, backup)  # restored again; this time accepted as it is
        with pytest.raises(StoreError, match="older than one this node"):
            await again.company_dnc(SELLER, LOST)
        await again._high.flush()
        seq = int(await admin.get(SEQ_KEY))
        at = (await admin.hget(IDS_KEY, str(seq))).decode()
        write_high_water(path, again.marker, seq, at)  # what records-accept-older writes
        assert await again.verify() is None  # /readyz ready
        assert again.behind is None
        await again.apply([dnc(LOST)])  # re-recorded
        await again._high.flush()
        assert "refusing" not in orjson.loads(path.read_bytes())
        assert read_mark(path, again.marker)[0] == seq + 1
    finally:
        await again.aclose()
        await admin.aclose()


async def test_a_node_without_a_data_dir_file_closes_after_refusing(redis_server):
    """A store opened without a data dir (no mark file) refuses a restored store in
    memory; nothing to keep, so its close must not wait for a write that never starts."""
    admin = aioredis.from_url(redis_server.url)
    node = RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                        RecordsSettings())
    await node.start()
    try:
        await node.apply([dnc(LOST)])
        await admin.set(SEQ_KEY, 0)  # restored from an older backup
        with pytest.raises(StoreError, match="older than one this node"):
            await node.company_dnc(SELLER, LOST)
    finally:
        await asyncio.wait_for(node.aclose(), 5)
        await admin.aclose()


def test_a_kept_refusal_asks_only_for_the_nodes_own_id_back(tmp_path):
    """The CLI reader on a data dir whose file says refusing: the store's id for the mark
    the node's own (the newest backup) passes; another or none refuses; a mark without an
    id (a file from before ids) asks only for the counter back, as the running node does."""
    write_high_water(tmp_path / HIGH_WATER_FILE, "m", 7, "aa", refusing=True)
    check_not_behind(tmp_path, "m", b"9", b"aa")
    for at_mark in (b"bb", None):
        with pytest.raises(StoreError, match="cannot be trusted"):
            check_not_behind(tmp_path, "m", b"9", at_mark)
    write_high_water(tmp_path / HIGH_WATER_FILE, "m", 7, None, refusing=True)
    check_not_behind(tmp_path, "m", b"7", None)
    with pytest.raises(StoreError, match="cannot be trusted"):
        check_not_behind(tmp_path, "m", b"6", None)
    assert read_state(tmp_path / HIGH_WATER_FILE, "other") == (0, None, False)
