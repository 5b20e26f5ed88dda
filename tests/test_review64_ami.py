"""The AMI session between a login and its picture (hrev64), over real TCP (fake_ami).

hami19 defers every Hangup from a login to its CoreShowChannels picture: after an
Asterisk restart a channel name from before (``PJSIP/itsp-00000001``) may be a new,
live call. The deferral began in ``_on_login``, which panoramisk's ``Manager.login``
schedules with ``call_soon`` after it has set ``authenticated``: for one turn of the loop
the session was "connected" with no picture pending, and a Hangup spawned in the turn of
the Login's answer (a tick, a number found) went out by its old name.
"""

from __future__ import annotations

import asyncio
import time

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, HangupChannel, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until


async def test_no_hangup_in_the_turn_between_the_login_and_on_login():
    fake = FakeAmi()
    port = await fake.start()
    original = fake._action
    answered: list[float] = []

    async def slow_picture(writer, action):
        if action.get("Action", "").lower() == "coreshowchannels":
            async def later():
                await asyncio.sleep(0.5)
                answered.append(time.monotonic())
                await original(writer, action)
            asyncio.ensure_future(later())  # noqa: RUF006 - ends with the fake
            return None
        return await original(writer, action)

    fake._action = slow_picture  # type: ignore[method-assign]
    settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                           reconnect_max_s=0.1, action_timeout_ms=3000)
    watchdog = AmiWatchdog(settings, fake.secret,
                           CallTracker(TrackerSettings(), report=lambda *a, **k: None))
    manager = watchdog._manager
    panoramisk_login = manager.login

    def login(future):
        # a retry due in the same turn as the Login's answer, just before it is read
        watchdog.run([HangupChannel("1733.40", "PJSIP/itsp-00000001", 3)])
        return panoramisk_login(future)

    manager.login = login  # type: ignore[method-assign]
    await watchdog.start()
    try:
        await until(lambda: watchdog.rebuilt, timeout=5)
        await asyncio.sleep(0.1)
        early = [at for at, action in fake.actions
                 if action.get("Action") == "Hangup" and at < answered[0]]
        assert early == []
        assert watchdog.stats["hangup_deferred_to_picture"] >= 1
    finally:
        await watchdog.aclose()
        await fake.close()
