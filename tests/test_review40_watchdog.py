"""The restart path's DIALSTATUS question, asked again after a later outage, bounds the
release by THAT outage, not by the one before the restart's picture.

hast17 made ``_resume`` ask a rebuilt call's dialling legs again on every picture
(``asked_dial_status`` stamped with ``CallTracker.pictures``). The answer's release still
took ``call.rebuild_outage`` — the outage before the picture the call was FIRST rebuilt
in — as its bound: restarted 5 s after the ALLOW, then AMI away 30 s while the Dial() was
answered and the called party hung up, the line-release said "at most 5 s, within the
25 s limit" for a release that may have come 30 s late (47 U.S.C. 227(d)(3)(B); Utah
13-25a-103(5)(e)): a compliance record claiming a release it cannot prove. The same
for a question asked again because its answers were lost with the session (``_getvar``
reads None): the called party may have gone as early as the FIRST outage it was asked
after, and the bound is kept from then (``gone_since``, ``dial_status_since``).

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


def test_a_lost_answer_asked_again_keeps_the_bound_from_the_first_outage():
    """The called party's channel went in one outage; the answers to the question asked
    then were lost (AMI dropped again at once: ``_getvar`` reads None). Asked again after
    that second outage (hast17: once per outage), the ANSWER found then bounds the release
    from when the FIRST outage began — the called party may have hung up as early as that —
    not from the second outage's start, which said 10 s for up to 40 s."""
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
    asked = tracker.reconcile(picture, 5.0)
    assert _answer(tracker, linkedid, asked, 5.1, "") == []
    ringing = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin"
                   and e.get("Channel") == CALLER_01[0]) + 1
    at = 5.2
    for event in events[dial_app:ringing]:
        at += 0.1
        tracker.feed(event, at)
    assert tracker.calls[linkedid].dest == CALLED_01
    began = at
    tracker.disconnected(began)  # the called party answers and hangs up meanwhile
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"
    asked = tracker.reconcile(back, began + 30.0)
    assert [r.variable for r in asked] == ["DIALEDPEERNAME", "DIALSTATUS"]
    for read in asked:  # AMI dropped at once: both Getvars answered None
        assert tracker.variable_read(linkedid, read.channel, read.variable, None,
                                     began + 30.1) == []
    tracker.disconnected(began + 30.2)
    now = began + 40.2
    asked = tracker.reconcile(back, now)
    assert [r.variable for r in asked] == ["DIALEDPEERNAME", "DIALSTATUS"]
    transfer_reads = _answer(tracker, linkedid, asked, now + 0.1, "ANSWER")
    hangups = _answer(tracker, linkedid, transfer_reads, now + 0.2, "")
    assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, now + 0.3)
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["release_ms_is_upper_bound"] is True
    assert release["release_ms"] == pytest.approx(40_500, abs=1)
    assert release["within_limit"] is False


def test_a_restart_question_lost_then_asked_again_bounds_from_the_first_outage():
    """Restarted after the Dial() was answered and ended (the calling legs left up, g),
    the answers to the restart's question lost (AMI dropped at once); asked again after
    the next outage, its ANSWER bounds the release from when the first outage began."""
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
    for read in asked:  # AMI dropped at once: every Getvar answered None
        assert tracker.variable_read(linkedid, read.channel, read.variable, None, 12.1) == []
    tracker.disconnected(12.2)
    now = 20.2
    asked = tracker.reconcile(back, now)
    transfer_reads = _answer(tracker, linkedid, asked, now + 0.1, "ANSWER")
    hangups = _answer(tracker, linkedid, transfer_reads, now + 0.2, "")
    assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, now + 0.3)
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["release_ms"] == pytest.approx(20_500, abs=1)
    assert release["within_limit"] is True
