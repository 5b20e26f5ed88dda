"""An answered call that ended unseen, in an AMI outage longer than its release limit.

The tracker knew the call was answered (lab call-01: both legs bridged), then AMI went
away and, when it came back, ``CoreShowChannels`` listed none of the call's channels
(``CallTracker.reconcile``): the called party may have hung up first as the outage began
and the calling legs gone only as it ended. The record said ``ended_by: unknown (AMI
disconnected)`` with no release time — and no ``release_unproven``, no violation-risk,
unlike a call forgotten for want of events (``_forgotten``) or one whose leftovers were
found up (``_release_after_outage``): a compliance officer reading for unproven releases
did not see it. Now, past the limit (Utah Code 13-25a-103(5)(e): 25 s), the release is
recorded unproven and a violation-risk is written; within it, the release took no longer
than the outage, so nothing changes.
"""

from __future__ import annotations

import pytest

from tests.test_watchdog import CALL_01, lab_events, parse, replay


def answered_then_gone(outage: float) -> list[tuple[str, dict]]:
    """Replay call-01 until both legs are bridged, lose AMI, come back ``outage`` s later
    with none of its channels up; the records written."""
    events = [parse(e) for e in lab_events(CALL_01)]
    bridged = [i for i, e in enumerate(events) if e.get("Event") == "BridgeEnter"][-1] + 1
    tracker, reports, _ = replay(events[:bridged], [events[0]["Linkedid"]])
    at = bridged * 0.1
    tracker.disconnected(at)
    assert tracker.reconcile([], at + outage) == []  # nothing left to hang up
    return reports


def test_an_outage_past_the_limit_leaves_the_release_unproven():
    reports = answered_then_gone(30.0)
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "unknown (AMI disconnected)"
    assert release["release_ms"] is None
    assert release["release_unproven"] is True
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert risk["ami_outage_s"] == pytest.approx(30.0)
    assert "not proven" in risk["reason"]
    assert risk["decision_id"] == release["decision_id"]


def test_an_outage_within_the_limit_proves_nothing_is_late():
    reports = answered_then_gone(2.0)
    [release] = [f for name, f in reports if name == "line-release"]
    assert "release_unproven" not in release
    assert [name for name, _ in reports] == ["line-release"]
