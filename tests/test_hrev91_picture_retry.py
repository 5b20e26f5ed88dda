"""hrev91: a picture that failed to be read is taken again, so the node watches again.

071de4c made ``AmiWatchdog._event_failed`` log instead of raising, so a tracker error in
``_rebuild`` no longer leaves the event hold on for good. But that path then returned with
``rebuilt`` False and no retry (the refused and unanswered pictures retry every
``_REBUILD_RETRY_S``): the node (node.py ``_lease_step``: ``watching`` needs ``rebuilt``)
never held the lease again for the whole session, so no line was released by it, however
many calls came later — until AMI happened to reconnect. A picture is of a moment: the
call that broke the reading may be gone a second later.

Over the fake AMI (tests/fake_ami.py); the failure is SYNTHESISED (any bug in reading a
picture), as in tests/test_watchdog_event_failed.py.
"""

from __future__ import annotations

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until
from tests.test_watchdog_event_failed import _BrokenPicture


async def test_a_failed_picture_is_taken_again_and_the_node_watches():
    fake = FakeAmi()
    port = await fake.start()
    tracker = _BrokenPicture()
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.5, action_timeout_ms=1000),
                           fake.secret, tracker)
    await watchdog.start()
    try:
        await until(lambda: watchdog.stats["event_errors"] == 1)
        await until(lambda: watchdog.rebuilt, timeout=5.0)
        assert watchdog.connected
        assert fake.logins == 1  # the same session: no reconnect needed
        assert watchdog.stats["rebuilds"] == 1
    finally:
        await watchdog.aclose()
        await fake.close()
