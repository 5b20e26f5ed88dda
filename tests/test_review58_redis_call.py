"""A failed command of the Redis record store names itself (hrev58, on hsto19).

87ebba3 turned ``f"record store (Redis) {what} failed"`` into ``"... what failed"`` (the
braces lost): a WAIT for replicas that failed (durability = "replicas") said "record store
(Redis) what failed: ...", which an operator cannot act on."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from callguard.errors import StoreError
from callguard.stores.redis.client import open_client
from callguard.stores.redis.records import RecordsSettings, RedisRecords


async def test_a_failed_wait_says_wait_failed(redis_server) -> None:
    records = RedisRecords(open_client(redis_server.url), RecordsSettings())
    await records.start()

    async def lost() -> int:
        raise RedisConnectionError("Connection closed by server.")

    try:
        with pytest.raises(StoreError) as refused:
            await records._call("WAIT", lost())
        assert str(refused.value) == ("record store (Redis) WAIT failed: Connection closed "
                                      "by server.")
    finally:
        await records.aclose()
