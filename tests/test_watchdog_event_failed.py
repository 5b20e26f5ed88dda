"""hwd22: a tracker error while a picture is read is logged and the session goes on.

``AmiWatchdog._event_failed`` logged with ``event=`` as a field: structlog's bound methods
take the log's own event as their first argument (``meth(event, ...)``), so the call raised
``TypeError: ... got multiple values for argument 'event'``. In ``_rebuild`` that left the
picture's hold (``_held``) in place for good: every later AMI event was held, none applied,
no called party's hangup ever released anything. Over the fake AMI (tests/fake_ami.py).
"""

from __future__ import annotations

import structlog

from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.fake_ami import FakeAmi
from tests.test_watchdog import until


class _BrokenPicture(CallTracker):
    """A tracker whose first picture fails (any bug in reading it)."""

    def __init__(self) -> None:
        super().__init__(TrackerSettings(), report=lambda *a, **k: None)
        self.fed: list[str] = []
        self.broken = True

    def reconcile(self, live, now, *, lots=None):
        if self.broken:
            self.broken = False
            raise RuntimeError("a bug reading the picture")
        return super().reconcile(live, now, lots=lots)

    def feed(self, event, now):
        self.fed.append(event.get("Event", ""))
        return super().feed(event, now)


async def test_a_failed_picture_is_logged_and_later_events_are_applied():
    fake = FakeAmi()
    port = await fake.start()
    tracker = _BrokenPicture()
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                       reconnect_max_s=0.5, action_timeout_ms=1000),
                           fake.secret, tracker)
    with structlog.testing.capture_logs() as logs:
        await watchdog.start()
        try:
            await until(lambda: watchdog.stats["event_errors"] == 1)
            await fake.send(["Event: Newchannel\r\nPrivilege: call,all\r\n"
                             "Channel: PJSIP/itsp-00000001\r\nChannelState: 0\r\n"
                             "Uniqueid: 1795600000.0\r\nLinkedid: 1795600000.0"])
            await until(lambda: "Newchannel" in tracker.fed)
        finally:
            await watchdog.aclose()
            await fake.close()
    [failed] = [e for e in logs if e["event"] == "ami_event_failed"]
    assert failed["ami_event"] == "CoreShowChannel"
    assert failed["error"] == "RuntimeError"
