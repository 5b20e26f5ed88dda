"""Review of ``callguard:records-acked`` (hrec18), on a real redis-server with a real
replica. Marks of the nodes that READ a write rise only to the acknowledged counter, so a
write acknowledged without raising it is one a restore can lose unnoticed by them: the
opt-out they read is gone and reads as none (ALLOW). Before this review the raise after
WAIT could fail (logged only) or find the write gone, and the write was acknowledged all
the same; ``acked`` then lagged until some later write — hours, for do-not-call requests.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from redis import asyncio as aioredis

from callguard.errors import StoreError
from callguard.stores.redis import records
from callguard.stores.redis.high_water import ACKED_KEY, SEQ_KEY
from callguard.stores.redis.remembered import MARKER_FILE
from tests.test_records18_acked import (
    ACKED,
    LOST,
    SELLER,
    _backup,
    _dnc,
    _restore,
    _store,
    _write,
    replicated,
)

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
    backup = await _backup(admin)
    acked = int(await admin.get(ACKED_KEY))
    url = redis_server.url.replace("redis://", "redis://node:pw@")
    writer = _store(url, tmp_path / "w")
    await writer.start()
    try:
        with pytest.raises(StoreError, match="not acknowledged"):
            await writer.apply([_dnc(LOST)])
    finally:
        await writer.aclose()
    assert int(await admin.get(SEQ_KEY)) == acked + 1  # written and replicated
    assert int(await admin.get(ACKED_KEY)) == acked  # but not marked acknowledged
    node = _store(redis_server.url, tmp_path / "b")
    await node.start()
    try:
        assert await node.company_dnc(SELLER, LOST) is not None
        assert node._high.known == acked  # its mark: the acknowledged value
        await _restore(admin, backup)  # the restore loses it: B cannot tell, and says none
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
    backup = await _backup(admin)
    writer = _store(redis_server.url, tmp_path / "w", ACKED)
    await writer.start()
    client: Any = writer._client
    real_wait = client.wait

    async def wait_then_fail_over(*args: Any) -> Any:
        answer = await real_wait(*args)  # the real WAIT: the replica has it
        await _restore(admin, backup)  # then the promoted replica lacks it
        return answer

    client.wait = wait_then_fail_over
    try:
        with pytest.raises(StoreError, match="not acknowledged"):
            await writer.apply([_dnc(LOST)])
    finally:
        await writer.aclose()
    reader = aioredis.from_url(redis_server.url)
    try:
        assert await reader.hget(f"callguard:rec:{SELLER}:{LOST}", "dnc") is None
    finally:
        await reader.aclose()
    assert (tmp_path / "w" / MARKER_FILE).exists()
