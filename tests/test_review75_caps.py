"""Review hrev75 of the counts' high-water mark (hfrq20), on a real redis-server: a healthy
server must never read as one restored from an older backup (every capped call BLOCKed)."""

from __future__ import annotations

from typing import Any

from callguard.stores.redis import frequency
from tests.test_frequency import CLAIM, NOON, redis_node

NUMBER = "+13055550191"


async def test_a_count_answered_after_a_later_group_is_not_a_restore(redis_server,
                                                                      monkeypatch):
    """A scrub's count (``plan.read``: a front a rule reads, not counts) and this node's
    next group go on two connections at once: the server runs the count's GET of the
    counter first, the group's INCR after, and the node may read the group's answer first
    (two sockets, either order). The count then reads one below the mark the group just
    raised — no group lost, yet before: ``frequency_store_behind``, and every capped call
    of the node BLOCKed until a restart. The count is judged against the mark when it was
    sent, as the record store judges its reads (``RedisRecords.seq_seen``). The order is
    forced by answering the group between the count's reads and their judgement."""
    node = redis_node(redis_server.url)
    real = frequency.read_once_more

    async def group_answered_first(client: Any, read: Any) -> Any:
        answer = await real(client, read)  # the server ran the count's reads here
        assert (await node.reserve("+13055550192", [CLAIM], NOON)).granted
        return answer

    try:
        assert (await node.reserve(NUMBER, [CLAIM], NOON)).granted
        monkeypatch.setattr(frequency, "read_once_more", group_answered_first)
        assert await node.count(NUMBER, [CLAIM], NOON) == (1,)
        monkeypatch.undo()
        assert node.behind is None
        assert (await node.reserve(NUMBER, [CLAIM], NOON)).granted
    finally:
        await node.aclose()


async def test_a_group_refused_on_a_weak_server_and_lost_in_its_crash_is_not_a_restore(
        tmp_path, redis_server):
    """A ``CONFIG SET appendfsync no`` on the live server: the next group runs (its INCR
    included) but is refused (the settings read beside it; the gate BLOCKs). The server then
    crashes and comes back without it (restored here from a copy taken just before), set
    right again: no call it acknowledged is missing, so the next call is counted. Before:
    the node's mark had risen to the refused group's value, the server read as older, and
    every capped call was BLOCKed until each node's mark file was removed and it restarted
    — as the record store, the mark rises only with what was acknowledged."""
    import pytest

    from callguard.errors import StoreError
    from tests.redis_restore import dump_all, restore_all
    from tests.test_frequency import node_counts

    async with node_counts(tmp_path, redis_server) as (store, _records, admin):
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        before = await dump_all(admin)
        await admin.config_set("appendfsync", "no")
        with pytest.raises(StoreError, match="appendfsync"):
            await store.reserve(NUMBER, [CLAIM], NOON)  # ran, not acknowledged
        await restore_all(admin, before)  # the crash lost what was never fsynced
        await admin.config_set("appendfsync", "always")
        result = await store.reserve(NUMBER, [CLAIM], NOON)
        assert result.granted
        assert result.counts == (1,)


async def test_a_server_that_evicts_counts_is_refused_not_counted_from_less(
        tmp_path, redis_server):
    """``maxmemory-policy volatile-lru`` is accepted for records (their keys never expire),
    but every count key carries an expiry: once ``maxmemory`` is reached Redis evicts
    counts, and a number's three calls gone read as none — a fourth ALLOWed within 24
    hours. Counts (and reads of them) on such a server are refused (the gate BLOCKs), as
    on an ``allkeys-*`` one; ``maxmemory 0`` evicts nothing and is served. Before:
    granted."""
    import pytest

    from callguard.errors import StoreError
    from tests.test_frequency import node_counts

    async with node_counts(tmp_path, redis_server) as (store, _records, admin):
        await admin.config_set("maxmemory-policy", "volatile-lru")
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted  # maxmemory 0
        assert await store.count(NUMBER, [CLAIM], NOON) == (1,)
        await admin.config_set("maxmemory", "1gb")
        with pytest.raises(StoreError, match="evicts call-frequency counts"):
            await store.reserve(NUMBER, [CLAIM], NOON)
        with pytest.raises(StoreError, match="evicts call-frequency counts"):
            await store.count(NUMBER, [CLAIM], NOON)
        await admin.config_set("maxmemory-policy", "noeviction")
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).counts == (2,)


async def test_settings_forbidden_under_warn_are_served_as_before(tmp_path, redis_server):
    """A managed Redis forbids CONFIG (here: renamed away by an ACL rule) and the site
    chose ``on_weak_durability = "warn"``: the counts were served before the eviction
    check and still are — the check refuses only a policy it read."""
    from tests.test_frequency import node_counts

    async with node_counts(tmp_path, redis_server, on_weak_durability="warn") as (
            store, _records, admin):
        await admin.execute_command("ACL", "SETUSER", "default", "-config")
        try:
            assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
            assert await store.count(NUMBER, [CLAIM], NOON) == (1,)
        finally:
            await admin.execute_command("ACL", "SETUSER", "default", "+config")


async def test_a_mark_that_cannot_be_saved_is_logged_once_a_minute_not_per_group(
        tmp_path, redis_server, monkeypatch):
    """A data dir the mark cannot be written to (full, read-only under systemd's
    ProtectSystem): calls go on (the mark in memory still guards the process) and the
    warning comes once, not once a second for as long as calls flow (before: one line per
    save, every ``SAVE_EVERY_S``: 86,400 a day)."""
    import asyncio
    import os

    from structlog.testing import capture_logs

    from tests.test_frq20_caps import _node_with_records

    monkeypatch.setattr(frequency, "SAVE_EVERY_S", 0.0)
    data = tmp_path / "node"
    records, store = _node_with_records(redis_server.url, data)
    await records.start()
    # the temp file's name taken by a directory: every save fails (IsADirectoryError)
    (data / f".{frequency.HIGH_WATER_FILE}.{os.getpid()}.tmp").mkdir()
    try:
        with capture_logs() as logs:
            for n in range(5):
                assert (await store.reserve(f"+130555502{n:02d}", [CLAIM], NOON)).granted
                await asyncio.sleep(0.05)  # the save, off the loop, fails
        unsaved = [e for e in logs if e["event"] == "frequency_high_water_unsaved"]
        assert len(unsaved) == 1, unsaved
        assert not (data / frequency.HIGH_WATER_FILE).exists()
    finally:
        await store.aclose()
        await records.aclose()


async def test_close_during_a_save_never_runs_two_writers_of_the_mark(
        tmp_path, redis_server, monkeypatch):
    """``aclose`` cancels the save in flight, but its worker thread cannot be cancelled
    and goes on writing; the final save then ran beside it, on the same temp file (named
    by pid): each truncated the other's, and one rename failed (a warning at every such
    stop, and a mark file written by two hands). One writer at a time."""
    import asyncio
    import threading
    import time

    from tests.test_frq20_caps import _node_with_records

    inside, most = 0, 0
    lock = threading.Lock()
    real = frequency.write_atomically

    def slow(path: Any, text: str) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.3)  # a slow fsync
        try:
            real(path, text)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(frequency, "SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(frequency, "write_atomically", slow)
    data = tmp_path / "node"
    records, store = _node_with_records(redis_server.url, data)
    await records.start()
    try:
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        await asyncio.sleep(0.1)  # the save's thread is writing
    finally:
        await store.aclose()
        await records.aclose()
    await asyncio.sleep(0.5)  # a writer left running by the cancel ends
    assert most == 1
    assert (data / frequency.HIGH_WATER_FILE).exists()


async def test_a_mark_file_of_another_redis_is_not_held_against_this_one(
        tmp_path, redis_server):
    """The node pointed at a new Redis (its marker file removed, as the record store asks,
    so it adopts the new server's marker): the counts' mark file still holds the old
    server's far higher mark. It belongs to that marker and is not held against this
    server — no ``frequency_store_behind`` on a healthy new server."""
    import orjson

    from tests.test_frq20_caps import _node_with_records

    data = tmp_path / "node"
    data.mkdir()
    (data / frequency.HIGH_WATER_FILE).write_bytes(orjson.dumps(
        {"marker": "the-old-servers-marker", "seq": 10**9}))
    records, store = _node_with_records(redis_server.url, data)
    await records.start()
    try:
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted
        assert await store.count(NUMBER, [CLAIM], NOON) == (1,)
        assert store.behind is None
    finally:
        await store.aclose()
        await records.aclose()
    mark = orjson.loads((data / frequency.HIGH_WATER_FILE).read_bytes())
    assert mark == {"marker": records.marker, "seq": 1}


async def test_a_node_ahead_reads_a_count_as_its_reservation_would(redis_server):
    """A rule that reads a count instead of counting (``plan.read``: a front it does not
    count) on a node whose clock is ahead: the reservation script judges windows from the
    server's instant (10eb7ed), the read judged them from the node's, a window starting in
    the future — three calls a node on time counted a moment ago fell out of a five-second
    window (24 hours in law) and a fourth call was ALLOWed. The read ends its windows as
    the script does. Before: read (0,)."""
    from datetime import UTC, datetime, timedelta

    from callguard.policy.frequency import FrequencyClaim

    claim = FrequencyClaim(CLAIM.rule_id, CLAIM.subject, 5, 3)
    on_time, ahead = redis_node(redis_server.url), redis_node(redis_server.url)
    try:
        for _ in range(3):
            assert (await on_time.reserve(NUMBER, [claim], datetime.now(UTC))).granted
        early = datetime.now(UTC) + timedelta(seconds=8)
        assert await ahead.count(NUMBER, [claim], early) == (3,)
        assert await ahead.count(NUMBER, [claim], early - timedelta(hours=3)) == (3,)
        assert await ahead.count(NUMBER, [claim], early + timedelta(hours=3)) == (0,)
    finally:
        await on_time.aclose()
        await ahead.aclose()
