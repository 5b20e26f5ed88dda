"""A Redis record write whose answer is lost after the server ran it (a stalled fsync past
the socket timeout, a dropped connection) is not said "write failed" (helper hsto21). The
opt-out or consent is then in force with no record-change in the compliance log; the
refusal must say it may have been recorded and to run the write again — which changes
nothing in the store and is acknowledged. A real redis-server behind a proxy that withholds
the reply (tests/redis_proxy.py)."""

from __future__ import annotations

import pytest

from callguard.errors import StoreError
from tests.redis_proxy import RedisProxy
from tests.redis_restore import SELLER, dnc, records_store

NUMBER = "+18015550177"


async def test_a_write_whose_answer_is_lost_says_it_may_be_recorded(tmp_path, redis_server):
    proxy = RedisProxy(redis_server.port)
    await proxy.start()
    store = records_store(proxy.url, tmp_path / "data")
    await store.start()
    try:
        await store.apply([dnc("+18015550100")])  # the script loaded on the server
        real = store._apply

        async def reply_lost(*args, **kwargs):
            await kwargs["client"].ping()  # the connection's own set-up, not cut
            proxy.cut_next(after_reply=True)  # the server runs the script; no answer
            return await real(*args, **kwargs)

        store._apply = reply_lost
        with pytest.raises(StoreError, match="may have been recorded") as refused:
            await store.apply([dnc(NUMBER)])  # before: "write failed: Connection closed"
        assert "run it again" in str(refused.value)
        assert proxy.cut == 1
        store._apply = real
        assert await store.company_dnc(SELLER, NUMBER) is not None  # it was recorded
        assert await store.apply([dnc(NUMBER)]) == (0,)  # again: acknowledged, no change
    finally:
        await store.aclose()
        await proxy.aclose()


async def test_a_server_that_cannot_be_reached_is_said_not_recorded(tmp_path, redis_server):
    """No connection at all: nothing was sent, so nothing may have been recorded."""
    store = records_store(redis_server.url, tmp_path / "data")
    await store.start()
    try:
        redis_server.stop()
        await store._client.connection_pool.disconnect()  # the next write connects anew
        with pytest.raises(StoreError, match="unreachable") as refused:
            await store.apply([dnc(NUMBER)])
        assert "may have been recorded" not in str(refused.value)
    finally:
        await store.aclose()
