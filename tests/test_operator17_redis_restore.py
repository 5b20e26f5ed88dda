"""Redis restored from an older backup: a list version going backwards is loud, and the
node keeps serving its newer copy — the older one lacks every number registered since and
would ALLOW calls to them (operator examiner 17). A real redis-server, restarted on its
older dump, and a real ``callguard serve``."""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import datetime, timedelta

import pytest

from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.redis_server import RedisServer
from tests.serve_node import AT, AT_DATE, ServeNode
from tests.test_redis_lists import bounded, connect, publish, wait_for

OLD, NEW = 8015550101, 8015550202  # NEW is registered only in the newer import


def _import(node: ServeNode, tmp, name: str, numbers: list[int], covers: str) -> None:
    path = tmp / f"{name}-{len(numbers)}.txt"
    path.write_text("".join(f"{n}\n" for n in numbers))
    result = node.cli("dnc", "import", str(path), "--list", name, "--published",
                      AT_DATE.isoformat(), "--covers", covers, "--max-shrink", "1")
    assert result.returncode == 0, result.stderr


def _national(node: ServeNode) -> dict:
    _, ready = node.json("/readyz")
    return next(c for c in ready["checks"] if c["name"] == "list:national")


def _verdict(node: ServeNode, number: int) -> dict:
    status, answer = node.json("/v1/check", {"number": str(number),
                                             "campaign": "ut-solar-manual", "at": AT})
    assert status == 200, answer
    return answer


def _until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_restored_backup_keeps_the_newer_copy_and_says_so(tmp_path):
    """v1 (OLD) is saved, v2 (OLD, NEW) imported and served; Redis is restarted on the
    saved dump, current v1 again. The node keeps v2 — NEW still BLOCKed — and says so:
    warning, callguard_list_went_back_total, /readyz not ready with the fix. A newer import
    clears it. Restarted before that, the node serves no copy of the list rather than v1.
    Before: an info line, and the node served v1: NEW ALLOWed."""
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", appendonly="no")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True,
                     reload_seconds=0.5)
    try:
        _import(node, tmp_path, "national", [OLD], "all")
        _import(node, tmp_path, "ut-state", [OLD], "all")
        assert node.cli("dnc", "status").returncode == 0
        asyncio.run(_save(redis.url))
        backup = tmp_path / "backup.rdb"
        shutil.copy(redis.data_dir / "dump.rdb", backup)
        node.start()
        assert node.events("records_not_shared")  # lists in Redis, records on this node
        _import(node, tmp_path, "national", [OLD, NEW], "all")
        _until(lambda: _verdict(node, NEW)["verdict"] == "BLOCK")

        redis.kill()
        shutil.copy(backup, redis.data_dir / "dump.rdb")
        redis.start()
        _until(lambda: bool(node.events("redis_reconnected")))  # logged after its catch-up sync

        assert _verdict(node, NEW)["verdict"] == "BLOCK"
        check = _national(node)
        assert not check["ok"]
        assert "older" in check["detail"]
        assert "import the newest copy" in check["detail"]
        assert node.json("/readyz")[0] == 503
        _, metrics = node.http("/metrics")
        assert 'callguard_list_went_back_total{list="national"} 1.0' in metrics
        assert 'callguard_list_refused{list="national"} 1.0' in metrics
        event = node.events("list_version_went_back")[0]
        assert event["level"] == "warning"
        assert event["serving"] == 2
        assert "8015550" not in node.stderr()

        # Restarted before anyone re-imports (a deploy, Restart=on-failure): the node
        # remembers it served v2 and serves no national copy rather than v1 (before: v1).
        node.stop()
        node.start()
        assert _verdict(node, NEW)["verdict"] == "BLOCK"
        assert _verdict(node, 8015550404)["verdict"] == "BLOCK"  # no copy: all in scope
        check = _national(node)
        assert not check["ok"]
        assert "last served v2" in check["detail"]
        # The CLI on this node's data dir reads the same file: dnc status and config check
        # say so, and a scrub BLOCKs NEW instead of reading the restored copy (before: ALLOW).
        status = node.cli("dnc", "status")
        assert "older than v2" in status.stdout + status.stderr
        checked = node.cli("config", "check")
        assert checked.returncode == 2
        assert "older than v2" in checked.stderr
        leads, out = tmp_path / "leads.csv", tmp_path / "leads.scrubbed.csv"
        leads.write_text(f"phone\n{NEW}\n")
        scrub = node.cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                         "--output", str(out))
        assert scrub.returncode == 0, scrub.stderr
        assert out.read_text().splitlines()[1].split(",")[1] == "BLOCK"

        _import(node, tmp_path, "national", [OLD, NEW, 8015550303], "all")
        _until(lambda: _national(node)["ok"])
        assert _verdict(node, 8015550404)["verdict"] == "ALLOW"
        assert _verdict(node, 8015550303)["verdict"] == "BLOCK"
    finally:
        node.stop()
        redis.stop()


async def _save(url: str) -> None:
    client = connect(url)
    try:
        await client.save()
    finally:
        await client.aclose()


@pytest.mark.usefixtures("redis_server")
async def test_a_rollback_is_still_followed_back(redis_server):
    """``dnc rollback`` moves to an older import on purpose: a node serving the withdrawn
    version follows it (twice in a row, too), not refused as a restore."""
    client = connect(redis_server.url)
    await publish(client, [OLD])
    await publish(client, [OLD, NEW])
    await publish(client, [OLD, NEW, 8015550303])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
    await node.start()
    try:
        await RedisListPublisher(client).rollback("national")
        await wait_for(lambda: node.snapshot("national").meta.version == 2, timeout=3)
        await RedisListPublisher(client).rollback("national")
        await wait_for(lambda: node.snapshot("national").meta.version == 1, timeout=3)
        assert not node.errors
        assert not node.went_back
    finally:
        await bounded(node.close(), "closing the node")
        await client.aclose()


@pytest.mark.usefixtures("redis_server")
async def test_a_node_that_missed_a_rollback_follows_it(redis_server):
    """A node serving v3 that was away while v3 was rolled back to v2 and v2 to v1
    (both announcements missed): v3 was withdrawn, so v1 is followed, not refused."""
    client = connect(redis_server.url)
    await publish(client, [OLD])
    await publish(client, [OLD, NEW])
    await publish(client, [OLD, NEW, 8015550303])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
    await node.sync()
    assert node.snapshot("national").meta.version == 3
    await RedisListPublisher(client).rollback("national")
    await RedisListPublisher(client).rollback("national")
    await node.sync()
    assert node.snapshot("national").meta.version == 1
    assert not node.errors
    await client.aclose()


@pytest.mark.usefixtures("redis_server")
async def test_a_newer_import_from_a_host_whose_clock_is_behind_is_taken(
        redis_server, monkeypatch):
    """A newer import (v2) stamped an hour before v1 by a cron host whose clock is behind:
    its higher number says it is newer — taken, not refused as a restore."""
    import callguard.stores.redis.lists as lists_module

    client = connect(redis_server.url)
    await publish(client, [OLD])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1)
    await node.sync()

    class Behind(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) - timedelta(hours=1)

    monkeypatch.setattr(lists_module, "datetime", Behind)
    await publish(client, [OLD, NEW])
    monkeypatch.undo()
    await node.sync()
    assert node.snapshot("national").contains(NEW)
    assert not node.errors
    await client.aclose()


async def test_a_node_restarted_with_an_unreadable_served_file_refuses_to_guess(tmp_path,
                                                                                redis_server):
    """The file that remembers the versions served, damaged: remember_in raises a
    StoreError naming it and what it is for (serve exits 3 with it), never starts as if
    nothing had been served."""
    from callguard.errors import StoreError

    path = tmp_path / "redis-lists-served.json"
    path.write_text('{"national": {"version": ')
    node = RedisListRegistry(connect(redis_server.url))
    with pytest.raises(StoreError, match="Remove it, then import your newest lists"):
        node.remember_in(path)
