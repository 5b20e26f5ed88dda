"""``first_action_ms`` is when a Hangup went out, not when one was decided (hwd20).

The tracker decides a release in ``due``; the AMI layer may hold it back (AMI away, the
picture after a login pending: ``ami.py`` ``_hangup``) or lose it. A line-release that
dated callguard's first action from the decision said it acted when it had not.

REPLAYS lab call-01 (real Asterisk 22.10.1 AMI traffic) through the pure tracker with a
synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import HangupChannel
from tests.test_watchdog import CALL_01, CALLED_01, lab_events, parse, replay


def _released(sent_at: float | None) -> tuple[dict, float]:
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    cut = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
               and e.get("Channel") == CALLED_01)
    tracker, reports, _ = replay(events[:cut + 1], [linkedid])
    gone_at = tracker.calls[linkedid].called_hangup_at
    assert gone_at is not None
    decided = [e for e in tracker.due(gone_at + 1.0) if isinstance(e, HangupChannel)]
    assert decided
    if sent_at is not None:
        tracker.hangup_sent(linkedid, sent_at)
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, gone_at + 3.0)
    [record] = [f for name, f in reports if name == "line-release"]
    return record, gone_at


def test_a_hangup_decided_but_never_sent_is_no_first_action():
    record, _ = _released(None)
    assert record["ended_by"] == "called-party"
    assert record["first_action_ms"] is None


def test_first_action_is_dated_when_the_hangup_went_out():
    record, gone_at = _released(None)
    record, gone_at = _released(gone_at + 2.0)
    assert record["first_action_ms"] == 2000.0
