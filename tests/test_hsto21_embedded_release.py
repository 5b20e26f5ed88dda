"""The embedded count store's release (a withdrawn ALLOW gives back its call) takes the row
its reservation inserted, as the Redis store takes its member (helper hsto21). Before: it
took 'the newest row of the number at that millisecond', so a release run twice — a
retried withdrawal — gave back a second call of the same instant that was never withdrawn,
and the number could be called once more than its cap (Fla. Stat. 501.616(6)(b): three
in 24 hours). A real SQLite file."""

from __future__ import annotations

import asyncio

from callguard.stores.embedded.frequency import EmbeddedFrequency
from tests.test_frequency import CLAIM, HASH, NOON

NUMBER = "+13055550166"


async def test_a_release_run_twice_frees_one_slot_among_calls_of_one_instant(tmp_path):
    store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", HASH, retention_s=86_400)
    try:
        results = await asyncio.gather(*(store.reserve(NUMBER, [CLAIM], NOON)
                                         for _ in range(3)))
        assert all(r.granted for r in results)
        held = results[0].held
        assert held is not None
        assert await store.release(NUMBER, held) == 1
        assert await store.release(NUMBER, held) == 0, "a replayed release freed a slot"
        assert await store.count(NUMBER, [CLAIM], NOON) == (2,)
        assert (await store.reserve(NUMBER, [CLAIM], NOON)).granted  # the one given back
        assert not (await store.reserve(NUMBER, [CLAIM], NOON)).granted  # no fourth
    finally:
        await store.aclose()


async def test_each_withdrawn_call_of_one_instant_gives_back_its_own_row(tmp_path):
    """Two calls of one number at one instant, both withdrawn: both rows go; a third call
    of that instant stays counted."""
    store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", HASH, retention_s=86_400)
    try:
        results = [await store.reserve(NUMBER, [CLAIM], NOON) for _ in range(3)]
        for result in results[:2]:
            assert result.held is not None
            assert await store.release(NUMBER, result.held) == 1
        assert await store.count(NUMBER, [CLAIM], NOON) == (1,)
    finally:
        await store.aclose()
