"""``callguard records-accept-older`` run before the node noticed the restore (reviewer
hrev86). Redis back on an older backup (calls counted since are gone), no capped call
since, and the operator accepts the counts at once, as the README says: the command
records ``frequency-older-accepted`` and sets the mark. The node's next capped call then
found the server behind, wrote its old mark and the refusal over the acceptance, adopted
it with that mark and refused again for good: the acceptance used up, every call a cap
covers (Fla. Stat. 501.616(6)(b)) BLOCKed, a restart too, until the command was run a
second time. A real redis-server and CLI process on the node's data dir."""

from __future__ import annotations

import asyncio

import orjson

from callguard.errors import StoreError
from callguard.stores.redis.frequency import HIGH_WATER_FILE
from tests.redis_restore import dump_all, restore_all
from tests.serve_node import ServeNode
from tests.test_frequency import CLAIM, NOON, aioredis_client
from tests.test_hsto21_counts_accept import _events, _running


async def _granted(store, number: str) -> bool:
    try:
        return (await store.reserve(number, [CLAIM], NOON)).granted
    except StoreError:
        return False


async def test_an_acceptance_made_before_the_node_noticed_holds(tmp_path, redis_server):
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    admin = aioredis_client(redis_server.url)
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert await _granted(store, "+13055550170")
        backup = await dump_all(admin)
        for n in range(6):  # six groups the backup lacks
            assert await _granted(store, f"+1305555018{n}")
        await asyncio.sleep(1.5)  # the mark is saved within a second
        await restore_all(admin, backup)

        accepted = await asyncio.to_thread(node.cli, "records-accept-older", "--reason",
                                           "restored the nightly backup")
        assert accepted.returncode == 0, accepted.stderr
        assert len(_events(node, "frequency-older-accepted")) == 1

        # the group that finds the server behind is refused (its refusal saved at once,
        # before the next capped call comes); the acceptance then holds
        outcomes = [await _granted(store, "+13055550190")]
        await asyncio.sleep(0.5)
        outcomes += [await _granted(store, f"+1305555019{n}") for n in range(1, 4)]
        assert outcomes[1:] == [True] * 3, outcomes  # before: all refused
        assert store.behind is None
        assert "refusing" not in orjson.loads((node.data / HIGH_WATER_FILE).read_bytes())
    finally:
        await store.aclose()
        await records.aclose()
    records, store = _running(redis_server.url, node)  # and after a restart
    try:
        await records.start()
        assert await _granted(store, "+13055550199")
    finally:
        await store.aclose()
        await records.aclose()
        await admin.aclose()


async def test_a_restore_after_an_acceptance_this_node_saw_is_refused(tmp_path, redis_server):
    """The other side: a node that adopted an acceptance (or saved a mark beside it) and
    then finds a second restore writes its refusal; the old acceptance accepts nothing."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    admin = aioredis_client(redis_server.url)
    records, store = _running(redis_server.url, node)
    try:
        await records.start()
        assert await _granted(store, "+13055550170")
        first = await dump_all(admin)
        assert await _granted(store, "+13055550171")
        await asyncio.sleep(1.5)
        await restore_all(admin, first)
        assert not await _granted(store, "+13055550172")  # found behind
        accepted = await asyncio.to_thread(node.cli, "records-accept-older", "--reason", "1")
        assert accepted.returncode == 0, accepted.stderr
        assert await _granted(store, "+13055550173")  # adopted
        second = await dump_all(admin)
        for n in range(3):
            assert await _granted(store, f"+1305555017{5 + n}")
        await asyncio.sleep(1.5)
        await restore_all(admin, second)
        for n in range(3):
            assert not await _granted(store, f"+1305555018{n}")
        await asyncio.sleep(0.5)
        assert store.behind is not None
        assert orjson.loads((node.data / HIGH_WATER_FILE).read_bytes()).get("refusing")
    finally:
        await store.aclose()
        await records.aclose()
        await admin.aclose()
    records, store = _running(redis_server.url, node)  # not accepted by a restart either
    try:
        await records.start()
        assert not await _granted(store, "+13055550190")
    finally:
        await store.aclose()
        await records.aclose()
