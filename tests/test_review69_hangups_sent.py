"""``hangups_sent`` counts the Hangups that went out, as ``first_action_ms`` dates them (hrev69).

hwd20 (0626ee1) dated ``first_action_ms`` from the first Hangup SENT (``ami.py``
``_hangup`` -> ``CallTracker.hangup_sent``), not the first decided: while AMI is away, or
the picture after a login is pending, ``_hangup`` holds every Hangup back. But the
line-release's ``hangups_sent`` still counted the decisions: ``due`` decides the release
again every ``retry_s`` (0.5 s) while the channels stay up, so an outage of a minute wrote
``hangups_sent: {channel: 120}`` beside ``first_action_ms: null`` — callguard said it had
sent 120 Hangups it never sent.

REPLAYS lab call-01 (real Asterisk 22.10.1 AMI traffic) through the pure tracker with a
synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import HangupChannel
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, lab_events, parse, replay


def _released(sent: list[str], decisions: int = 4) -> dict:
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    cut = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
               and e.get("Channel") == CALLED_01)
    tracker, reports, _ = replay(events[:cut + 1], [linkedid])
    gone_at = tracker.calls[linkedid].called_hangup_at
    assert gone_at is not None
    decided: list[HangupChannel] = []
    for n in range(decisions):  # the retries a held-back release gets, one per retry_s
        decided += [e for e in tracker.due(gone_at + 0.1 + n * tracker.settings.retry_s)
                    if isinstance(e, HangupChannel)]
    assert {e.channel for e in decided} == set(CALLER_01)
    for channel in sent:  # what ami.py ``_hangup`` did send
        tracker.hangup_sent(linkedid, gone_at + 2.5, channel)
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, gone_at + 3.0)
    [record] = [f for name, f in reports if name == "line-release"]
    return record


def test_hangups_held_back_are_not_counted_as_sent():
    record = _released([])
    assert record["first_action_ms"] is None
    assert record["hangups_sent"] == {}


def test_the_hangups_that_went_out_are_counted():
    record = _released([CALLER_01[0], CALLER_01[0], CALLER_01[1]])
    assert record["hangups_sent"] == {CALLER_01[0]: 2, CALLER_01[1]: 1}
    assert record["first_action_ms"] is not None
