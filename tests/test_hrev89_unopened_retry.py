"""The counts' file opened again in the background (UnopenedFrequency, hrev86) keeps its
pace whatever the opening raised (reviewer hrev89).

Only a StoreError put the next opening ``RETRY_S`` later; anything else the opening does not
wrap (a PRAGMA's sqlite3.Error, a thread that cannot start when the process is out of
them) left the time where it was: every capped call then started another opening at once,
back to back, and each task's exception was never retrieved. Synthetic clock, real loop."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.unopened import UnopenedFrequency
from callguard.stores.interfaces import FrequencyStore
from tests.test_frequency import CLAIM, NOON

NUMBER = "+13055550186"


async def test_an_opening_that_raises_anything_waits_its_retry_time() -> None:
    now = [0.0]
    tries: list[float] = []

    def opener() -> FrequencyStore:
        tries.append(now[0])
        raise sqlite3.OperationalError("unable to open database file")

    store = UnopenedFrequency(opener, "locked", retry_s=10, clock=lambda: now[0])
    try:
        now[0] = 10.0  # an opening is due
        for _ in range(5):  # capped calls, each refused while the opening fails
            with pytest.raises(StoreError, match="could not be opened"):
                await store.reserve(NUMBER, [CLAIM], NOON)
            await asyncio.sleep(0.05)  # the opening runs (and fails) in its thread
        assert tries == [10.0]  # before: an opening at every call, none 10 s apart
        assert "OperationalError" in store.reason
        now[0] = 20.0
        with pytest.raises(StoreError):
            await store.reserve(NUMBER, [CLAIM], NOON)
        await asyncio.sleep(0.05)
        assert tries == [10.0, 20.0]
    finally:
        await store.aclose()
