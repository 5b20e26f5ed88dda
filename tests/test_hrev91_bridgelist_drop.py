"""hrev91: a session that drops while BridgeList is awaited does not have its picture read.

afe003e made ``AmiWatchdog._rebuild`` await a second action (``BridgeList``) between the
``CoreShowChannels`` answer and ``CallTracker.reconcile``. A session lost in that wait
fails the BridgeList future at once (``_GuardedProtocol.close``: ConnectionError) and
``_holding_bridges`` answers None, but ``asyncio.wait_for`` wakes ``_rebuild`` only after
``_on_disconnect`` has run (the inner future's callback, then the waiter's, each a loop
turn later; ``_on_disconnect`` is scheduled in the first). The gone session's picture was
then reconciled: ``reconcile`` cleared the tracker's ``disconnected_at`` (the outage being
lived now was forgotten: the next picture read it as no outage, so a called party's
hangup in it was released as if just seen, its release not marked an upper bound, and a
call gone in it recorded ``caller`` instead of ``unknown (AMI disconnected)``), and
``rebuilt`` was set True with no session: the next login counted as watching before its
own picture, and that picture's failure was never retried (``_rebuild_again`` needs
``not rebuilt``).

Over the fake AMI (tests/fake_ami.py); the drop is SYNTHESISED (Asterisk closing the
session, or the network failing, as BridgeList is asked).
"""

from __future__ import annotations

import asyncio

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until


class _DropAtBridgeList(FakeAmi):
    """Answers CoreShowChannels, then the session is cut as BridgeList arrives and the
    port closed (Asterisk stopping): every reconnect is refused."""

    def bridge_listing(self, action: dict[str, str]) -> str:
        del action
        self.closing = asyncio.get_running_loop().create_task(self.close())
        return ""


async def test_a_picture_of_a_session_gone_before_bridgelist_is_not_read():
    fake = _DropAtBridgeList(bridge_list=[])
    port = await fake.start()
    tracker = CallTracker(TrackerSettings(), report=lambda *a, **k: None)
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.5, action_timeout_ms=1000),
                           fake.secret, tracker)
    await watchdog.start()
    try:
        await until(lambda: any(a.get("Action") == "BridgeList" for _, a in fake.actions))
        await until(lambda: not watchdog.connected)
        await asyncio.sleep(0.3)  # the rebuild's wake-up after the disconnect
        # the outage goes on: the next picture must bound its releases by it
        assert tracker.disconnected_at is not None
        assert not watchdog.rebuilt
        assert watchdog.stats["rebuilds"] == 0
    finally:
        await watchdog.aclose()
        await fake.close()
