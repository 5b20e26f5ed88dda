"""The restart path's DIALSTATUS question, asked again after a later outage, bounds the
release by THAT outage, not by the one before the restart's picture.

hast17 made ``_resume`` ask a rebuilt call's dialling legs again on every picture
(``asked_dial_status`` stamped with ``CallTracker.pictures``). The answer's release still
took ``call.rebuild_outage`` — the outage before the picture the call was FIRST rebuilt
in — as its bound: restarted 5 s after the ALLOW, then AMI away 30 s while the Dial() was
answered and the called party hung up, the line-release said "at most 5 s, within the
25 s limit" for a release that may have come 30 s late (47 U.S.C. 227(d)(3)(B); Utah
13-25a-103(5)(e)): a compliance record claiming a release it cannot prove.

REPLAYS lab call-01 (real Asterisk 22 AMI traffic, ../shared/fixtures) through the pure
tracker with a synthetic clock; the pictures are SYNTHESISED from it (``picture_at``).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    carried,
    lab_events,
    parse,
    picture_at,
    written,
)

FOLLOW = "CALLGUARD_FOLLOW"


def _answer(tracker: CallTracker, linkedid: str, asked: list, now: float,
            status: str) -> list:
    effects = []
    for read in asked:
        assert isinstance(read, ReadVariable)
        value = {"DIALEDPEERNAME": CALLED_01, "DIALSTATUS": status}.get(read.variable, "")
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, value,
                                             now))
    return effects


def _restarted_then_away(first_outage: float, second_outage: float):
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    dial_app = next(i for i, e in enumerate(events) if e.get("Channel") == CALLER_01[0]
                    and e.get("Application") == "Dial")
    picture = picture_at(events, dial_app)
    for item in picture:
        if item["Channel"] == CALLER_01[0]:
            item["Application"] = "NoOp"
            item["ChanVariable"] = f"{FOLLOW}={carried()}"
    tracker.disconnected(0.0)
    first = first_outage
    asked = tracker.reconcile(picture, first)
    assert _answer(tracker, linkedid, asked, first + 0.1, "") == []  # no Dial() yet
    away = first + 0.2
    tracker.disconnected(away)  # AMI away for the whole Dial(): rung, answered, hung up
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"  # Dial(...,g): the calling legs live on
    now = away + second_outage
    asked = tracker.reconcile(back, now)
    assert (CALLER_01[0], "DIALSTATUS") in [(r.channel, r.variable) for r in asked]
    transfer_reads = _answer(tracker, linkedid, asked, now + 0.1, "ANSWER")
    hangups = _answer(tracker, linkedid, transfer_reads, now + 0.2, "")
    assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, now + 0.3)
    [release] = [f for name, f in reports if name == "line-release"]
    return release


def test_a_later_outage_bounds_the_release_by_its_own_length():
    release = _restarted_then_away(first_outage=5.0, second_outage=30.0)
    assert release["release_ms_is_upper_bound"] is True
    # the called party may have hung up as the second outage began: 30 s before the read
    assert release["release_ms"] >= 30_000
    assert release["within_limit"] is False


def test_the_first_picture_still_bounds_by_the_restart_outage():
    """Asked in the very picture the call was rebuilt in, the bound stays that outage."""
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"
        if item["Channel"] == CALLER_01[0]:
            item["ChanVariable"] = f"{FOLLOW}={carried()}"
    tracker.disconnected(0.0)
    asked = tracker.reconcile(back, 12.0)
    transfer_reads = _answer(tracker, linkedid, asked, 12.1, "ANSWER")
    hangups = _answer(tracker, linkedid, transfer_reads, 12.2, "")
    assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, 12.3)
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["release_ms_is_upper_bound"] is True
    assert release["release_ms"] == pytest.approx(12_200, abs=150)
