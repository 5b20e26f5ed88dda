"""A list's switch whose EXEC ran but whose reply was lost (hrev58, reviewing hsto19).

redis-py turns a connection lost while keys are WATCHed into WatchError, which
``_switch`` reads as "another import switched meanwhile: look again". Looking again, it
found ``current`` already its own version (its EXEC had run) and switched once more:
``previous`` := its own version. The version before was no longer anyone's ``previous``,
and ``dnc rollback`` of that import "rolled back" to the import itself: the bad copy
(numbers missing, called as not listed) stayed current.
"""

from __future__ import annotations

import asyncio

import pytest

from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.redis_proxy import RedisProxy
from tests.test_redis_lists import PUBLISHED, bounded, connect, listing, publish


async def test_a_lost_exec_reply_keeps_previous_and_rollback_goes_back(redis_server
                                                                       ) -> None:
    direct = connect(redis_server.url)
    proxy = RedisProxy(redis_server.port)
    await proxy.start()
    client = connect(proxy.url)
    try:
        await publish(direct, [8015550101])
        real_pipeline = client.pipeline
        armed = [True]

        def losing_exec_reply(*args, **kwargs):
            pipe = real_pipeline(*args, **kwargs)
            if kwargs.get("transaction") and armed and armed.pop():  # the switch's first MULTI/EXEC
                real_execute = pipe.execute

                async def execute(*a, **kw):
                    proxy.cut_next(after_reply=True)  # the server runs it; no reply
                    return await real_execute(*a, **kw)

                pipe.execute = execute
            return pipe

        client.pipeline = losing_exec_reply
        meta = await bounded(RedisListPublisher(client).publish(
            "national", listing([8015550202]), published=PUBLISHED, area_codes=None,
            source="lost reply"), "publishing through a lost EXEC reply")
        client.pipeline = real_pipeline
        assert proxy.cut >= 1
        assert meta.version == 2
        assert int(await direct.get("callguard:list:national:current")) == 2
        assert int(await direct.get("callguard:list:national:previous")) == 1  # before: 2
        assert await RedisListPublisher(direct).rollback("national") == 1
    finally:
        await bounded(client.aclose(), "closing the proxied client")
        await proxy.aclose()
        await bounded(direct.aclose(), "closing the client")


async def test_an_import_cancelled_as_its_switch_ran_keeps_the_version(redis_server
                                                                       ) -> None:
    """Ctrl-C (the task cancelled) while the switch's EXEC is in flight: the server ran
    it, the import never learnt it. Its clean-up (hsto19) deleted the manifest and chunks
    of what was now ``current``: every node started after served no list (every call in
    its scope BLOCKed), every running node failed to load it."""
    client = connect(redis_server.url)
    try:
        await publish(client, [8015550101])
        real_pipeline = client.pipeline

        def cancelled_after_exec(*args, **kwargs):
            pipe = real_pipeline(*args, **kwargs)
            if kwargs.get("transaction"):
                real_execute = pipe.execute

                async def execute(*a, **kw):
                    await real_execute(*a, **kw)
                    raise asyncio.CancelledError  # delivered before the reply was read

                pipe.execute = execute
            return pipe

        client.pipeline = cancelled_after_exec
        with pytest.raises(asyncio.CancelledError):
            await RedisListPublisher(client).publish(
                "national", listing([8015550202]), published=PUBLISHED, area_codes=None,
                source="cancelled")
        client.pipeline = real_pipeline
        assert int(await client.get("callguard:list:national:current")) == 2
        assert await client.exists("callguard:list:national:v2:manifest")  # before: gone
        node = RedisListRegistry(client)
        await bounded(node.start(), "starting a node")
        try:
            snapshot = node.snapshot("national")
            assert snapshot is not None, node.errors
            assert snapshot.contains(8015550202)
        finally:
            await bounded(node.close(), "closing the node")
    finally:
        await bounded(client.aclose(), "closing the client")
