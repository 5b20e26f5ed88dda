"""Review of ``callguard:records-acked`` (hrec18), on a real redis-server with a real
replica. Marks of the nodes that READ a write rise only to the acknowledged counter, so a
write acknowledged without raising it is one a restore can lose unnoticed by them: the
opt-out they read is gone and reads as none (ALLOW). Before this review the raise after
WAIT could fail (logged only) or find the write gone, and the write was acknowledged all
the same; ``acked`` then lagged until some later write — hours, for do-not-call requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis import records
from callguard.stores.redis.high_water import ACKED_KEY, SEQ_KEY
from callguard.stores.redis.remembered import MARKER_FILE
from tests.redis_restore import LOST, SELLER, dnc, dump_all, restore_all
from tests.redis_server import RedisServer
from tests.test_records18_acked import ACKED, _store, _write, replicated

__all__ = ["replicated"]  # the fixture, used by name


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis's script id


async def test_a_write_whose_acked_raise_fails_is_not_acknowledged(
        tmp_path, redis_server, replicated):
    """The node's Redis user may not run the script raising ``callguard:records-acked``
    (an ACL; any error of the raise after WAIT does the same): its write reached the
    replica, but the acknowledged counter stays behind it. main: the write was acknowledged
    (a warning logged); node B, which read the opt-out, kept its mark below it and a
    restore losing it went unnoticed — B read no opt-out. Now: not acknowledged."""
    admin = replicated
    await _write(redis_server.url, tmp_path / "cron", "+18015550170")  # the key exists
    await admin.execute_command(  # EVALSHA allowed for the write and the read scripts only
        "ACL", "SETUSER", "node", "on", ">pw", "+@all", "~*", "&*", "-evalsha",
        f"+evalsha|{_sha(records._APPLY)}", f"+evalsha|{_sha(records._READ)}")
    backup = await dump_all(admin)
    acked = int(await admin.get(ACKED_KEY))
    url = redis_server.url.replace("redis://", "redis://node:pw@")
    writer = _store(url, tmp_path / "w")
    await writer.start()
    try:
        with pytest.raises(StoreError, match="not acknowledged"):
            await writer.apply([dnc(LOST)])
    finally:
        await writer.aclose()
    assert int(await admin.get(SEQ_KEY)) == acked + 1  # written and replicated
    assert int(await admin.get(ACKED_KEY)) == acked  # but not marked acknowledged
    node = _store(redis_server.url, tmp_path / "b")
    await node.start()
    try:
        assert await node.company_dnc(SELLER, LOST) is not None
        assert node._high.known == acked  # its mark: the acknowledged value
        await restore_all(admin, backup)  # the restore loses it: B cannot tell, and says none
        assert await node.company_dnc(SELLER, LOST) is None
    finally:
        await node.aclose()


async def test_a_write_gone_from_the_store_after_wait_is_not_acknowledged(
        tmp_path, redis_server, replicated):
    """WAIT saw the write replicated, then the store the node talks to no longer holds it
    (a failover to another replica, a restore) before the acknowledged counter was raised.
    main: the raise was skipped silently and the write acknowledged — an opt-out promised
    and not in the store. Now: not acknowledged."""
    admin = replicated
    await _write(redis_server.url, tmp_path / "cron", "+18015550170")
    backup = await dump_all(admin)
    writer = _store(redis_server.url, tmp_path / "w", ACKED)
    await writer.start()
    real_ack = writer._ack

    async def fail_over_then_ack(**kwargs: Any) -> Any:  # after the real WAIT: replicated
        await restore_all(admin, backup)  # then the promoted replica lacks it
        return await real_ack(**kwargs)

    writer._ack = fail_over_then_ack  # type: ignore[assignment]
    try:
        with pytest.raises(StoreError, match="not acknowledged"):
            await writer.apply([dnc(LOST)])
    finally:
        await writer.aclose()
    reader = aioredis.from_url(redis_server.url)
    try:
        assert await reader.hget(f"callguard:rec:{SELLER}:{LOST}", "dnc") is None
    finally:
        await reader.aclose()
    assert (tmp_path / "w" / MARKER_FILE).exists()


@pytest.fixture
async def stalled(tmp_path, redis_server) -> AsyncIterator[tuple[aioredis.Redis, Any]]:
    """A real replica attached to ``redis_server``; the primary's client and the replica's
    process (SIGSTOP it: connected, but it acknowledges nothing more)."""
    replica = RedisServer(tmp_path / "replica")
    replica.data_dir.mkdir()
    replica.start()
    client = aioredis.from_url(replica.url)
    primary = aioredis.from_url(redis_server.url)
    try:
        await client.execute_command("REPLICAOF", "127.0.0.1", str(redis_server.port))
        for _ in range(200):
            info = await primary.info("replication")
            link = await client.info("replication")
            if (info.get("slave0", {}).get("state") == "online"
                    and link.get("master_link_status") == "up"):
                break
            await asyncio.sleep(0.05)
        yield primary, replica.process
    finally:
        assert replica.process is not None
        with contextlib.suppress(Exception):
            replica.process.send_signal(signal.SIGCONT)
        with contextlib.suppress(Exception):
            await client.aclose()
        await primary.aclose()
        replica.kill()


async def test_wait_counts_the_replicas_of_the_write_s_own_connection(
        tmp_path, redis_server, stalled):
    """WAIT counts the replicas that acknowledged the last write of ITS connection; from a
    pool, the connection the write ran on may be another task's when WAIT is sent (a read
    racing the write took it). main: WAIT on a connection that wrote nothing returned at
    once with every connected replica — a write acknowledged as replicated that no replica
    had (a failover then loses the opt-out). Now the write, its checks and WAIT share one
    connection."""
    admin, process = stalled
    await _write(redis_server.url, tmp_path / "cron", "+18015550170", ACKED)
    writer = _store(redis_server.url, tmp_path / "w",
                    replace(ACKED, wait_timeout_ms=300))
    await writer.start()
    client: Any = writer._client
    real_wait = client.wait

    async def wait_while_a_read_holds_the_write_s_connection(*args: Any) -> Any:
        held = await client.connection_pool.get_connection()  # the one just released
        try:
            return await real_wait(*args)
        finally:
            await client.connection_pool.release(held)

    client.wait = wait_while_a_read_holds_the_write_s_connection
    pool = client.connection_pool  # a serving node's pool: more than one idle connection
    first, second = await pool.get_connection(), await pool.get_connection()
    await pool.release(first)
    await pool.release(second)
    await admin.set("review51:before-the-stall", 1)
    assert await admin.wait(1, 5000) == 1  # the replica has everything before the write
    process.send_signal(signal.SIGSTOP)  # the replica receives nothing more
    try:
        with pytest.raises(StoreError, match="not acknowledged"):
            await writer.apply([dnc(LOST)])
    finally:
        process.send_signal(signal.SIGCONT)
        await writer.aclose()
    assert int(await admin.get(ACKED_KEY)) < int(await admin.get(SEQ_KEY))
