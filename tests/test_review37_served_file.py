"""Review 37 of the file that remembers the Redis list versions served (hux17,
``<data_dir>/redis-lists-served.json``): written off the event loop, and its rename made
durable. A real redis-server on a free port and real files; ``os.fsync`` is watched (it
still syncs) to see where each sync runs and what it syncs."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading

import pytest

from callguard.stores.redis.lists import SERVED_LISTS_FILE, RedisListRegistry
from tests.test_redis_lists import connect, publish


@pytest.mark.usefixtures("redis_server")
async def test_the_served_file_is_synced_off_the_loop_with_its_directory(
        tmp_path, redis_server, monkeypatch):
    """A version loaded: the file names it; its sync runs in a thread, not on the loop that
    decides calls (an fsync behind a busy compliance log stalled every call in flight), and
    the data dir is synced after the rename (else a power cut may undo the rename, and the
    node, restarted, compares with a version older than it served). Before: both fsyncs of
    the file ran on the loop, the directory never."""
    synced: list[tuple[bool, bool]] = []  # (on the loop's thread, a directory)
    real_fsync = os.fsync

    def watched(fd: int) -> None:
        synced.append((threading.current_thread() is threading.main_thread(),
                       stat.S_ISDIR(os.fstat(fd).st_mode)))
        real_fsync(fd)

    client = connect(redis_server.url)
    await publish(client, [8015550101])
    node = RedisListRegistry(connect(redis_server.url))
    path = tmp_path / SERVED_LISTS_FILE
    node.remember_in(path)
    monkeypatch.setattr(os, "fsync", watched)
    try:
        await node.sync()
    finally:
        monkeypatch.undo()
        await client.aclose()
    assert json.loads(path.read_text())["national"]["version"] == 1
    assert synced, "the file was not synced"
    assert not [s for s in synced if s[0]], f"synced on the loop's thread: {synced}"
    assert (False, True) in synced, f"the data dir was not synced: {synced}"
    assert not path.with_name(path.name + ".partial").exists()


@pytest.mark.usefixtures("redis_server")
async def test_two_lists_loading_at_once_leave_one_whole_file(tmp_path, redis_server):
    """Two lists loaded concurrently (their announcements arrive together): the file is
    whole and names both (guards the one-write-at-a-time lock the threaded write needs)."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    await publish(client, [8015550102], name="ut-state")
    node = RedisListRegistry(connect(redis_server.url))
    path = tmp_path / SERVED_LISTS_FILE
    node.remember_in(path)
    try:
        await asyncio.gather(node.sync_one("national"), node.sync_one("ut-state"))
    finally:
        await client.aclose()
    doc = json.loads(path.read_text())
    assert sorted(doc) == ["national", "ut-state"]
