"""hrev92: every path that logs a tracker error through ``AmiWatchdog._event_failed``
goes on after it, not only the picture's (``test_watchdog_event_failed``).

``_event_failed`` logged ``event=`` as a field (fixed in 071de4c): structlog's bound methods
take the log's own event as their first argument, so the log call itself raised
``TypeError``. Besides the picture's hold, two serving paths ended with it:

- ``_tick``: a tracker error in ``due()`` ended the timer task — no release ever again (every
  release after a called party's hangup is a ``due()`` effect or a retry), and no
  silence check (``drop_if_silent``) on the session;
- ``_replay``: a tracker error on one held event ended the replay — every later event held
  while the picture was taken was dropped unapplied (a called party's Hangup among them).

A scan of every logger call in callguard/ (ast: any ``.debug/.info/.warning/.error/
.exception/.critical/.msg/.log`` call with an ``event`` keyword, and every ``**`` splat into
one) found no other. Over the fake AMI (tests/fake_ami.py); the events are lab-shaped
Newchannel events (Asterisk 22 field layout, as tests/test_watchdog_event_failed.py).
"""

from __future__ import annotations

import asyncio

import structlog

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until


def _newchannel(channel: str, uniqueid: str) -> str:
    return (f"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: {channel}\r\n"
            f"ChannelState: 0\r\nChannelStateDesc: Down\r\nUniqueid: {uniqueid}\r\n"
            f"Linkedid: {uniqueid}")


class _Tracker(CallTracker):
    """A tracker with one bug: its first ``due()``, or its feed of one Uniqueid, raises."""

    def __init__(self, *, due_fails: bool = False, feed_fails: str = "") -> None:
        super().__init__(TrackerSettings(), report=lambda *a, **k: None)
        self.due_fails, self.feed_fails = due_fails, feed_fails
        self.dues = 0
        self.fed: list[str] = []

    def due(self, now):
        self.dues += 1
        if self.due_fails:
            self.due_fails = False
            raise RuntimeError("a bug in due()")
        return super().due(now)

    def feed(self, event, now):
        self.fed.append(event.get("Uniqueid", ""))
        if self.feed_fails and event.get("Uniqueid") == self.feed_fails:
            raise RuntimeError("a bug feeding one event")
        return super().feed(event, now)


async def _watch(fake: FakeAmi, tracker: CallTracker) -> AmiWatchdog:
    port = await fake.start()
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.5, action_timeout_ms=1000),
                           fake.secret, tracker)
    await watchdog.start()
    return watchdog


async def test_the_timer_loop_goes_on_after_a_tracker_error_in_due():
    fake, tracker = FakeAmi(), _Tracker(due_fails=True)
    with structlog.testing.capture_logs() as logs:
        watchdog = await _watch(fake, tracker)
        try:
            await until(lambda: tracker.dues >= 5)  # ticks after the failed one
            assert watchdog._ticker is not None
            assert not watchdog._ticker.done()
        finally:
            await watchdog.aclose()
            await fake.close()
    [failed] = [e for e in logs if e["event"] == "ami_event_failed"]
    assert failed["ami_event"] == "tick"
    assert failed["error"] == "RuntimeError"
    assert watchdog.stats["event_errors"] == 1


async def test_the_held_events_after_a_failing_one_are_still_applied():
    first, second = "1795700000.0", "1795700001.0"
    fake = FakeAmi(behind_picture=[_newchannel("PJSIP/itsp-00000001", first),
                                   _newchannel("PJSIP/itsp-00000002", second)])
    tracker = _Tracker(feed_fails=first)
    with structlog.testing.capture_logs() as logs:
        watchdog = await _watch(fake, tracker)
        try:
            await until(lambda: second in tracker.fed)
            await until(lambda: watchdog.rebuilt)
            await asyncio.sleep(0.05)
            assert watchdog._held is None  # the hold ended: later events are applied live
        finally:
            await watchdog.aclose()
            await fake.close()
    assert tracker.fed[:2] == [first, second]
    [failed] = [e for e in logs if e["event"] == "ami_event_failed"]
    assert failed["ami_event"] == "Newchannel"
