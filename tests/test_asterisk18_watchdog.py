"""A rebuilt call's questions asked LATE (after the number lookup, or once its follow
variable is read) bound the release from when the outage began, not by the outage's
length as measured at the picture.

``_resume`` took ``call.rebuild_outage`` — a duration, measured when the picture was taken
— and subtracted it from the moment it ran. It runs later on two paths: ``_number_known``
(the decision's number digest sought in the compliance log, up to ``number_lookup_s``, 1 s
on a node) and ``_learn`` (CALLGUARD_FOLLOW read with ``Getvar`` when channelvars is not
set). The earliest the called party can have hung up then moved forward by that wait, so a
release up to 25.7 s after the called party's hangup was recorded "at most 24.7 s, within
the 25 s limit" (Utah 13-25a-103(5)(e)): a compliance record claiming a release it cannot
prove. The outage now keeps when it began (``rebuild_since``).

REPLAYS lab call-01 (real Asterisk 22.10.1 AMI traffic, ../shared/fixtures) through the
pure tracker with a synthetic clock; the pictures are SYNTHESISED from it (``picture_at``):
restarted after the called party answered and hung up (``Dial(...,g)``: the calling legs
live on, app_dial.c ``dial_exec_full`` returns to the dialplan).

Also here: the bound of the restart's DIALSTATUS question is kept per dialling leg
(``dial_status_since``); one leg's answer cleared it for every leg of the call.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
)
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
OUTAGE = 24.5  # restarted 24.5 s after the last moment a follower watched
LOOKUP = 1.0  # node.py _NUMBER_LOOKUP_S


def _picture(*, follow: bool) -> tuple[str, list[dict[str, str]]]:
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"
        if follow and item["Channel"] == CALLER_01[0]:
            item["ChanVariable"] = f"{FOLLOW}={carried()}"
    return linkedid, back


def _answer(tracker: CallTracker, linkedid: str, asked: list, now: float) -> list:
    effects = []
    for read in asked:
        assert isinstance(read, ReadVariable)
        value = {"DIALEDPEERNAME": CALLED_01, "DIALSTATUS": "ANSWER"}.get(read.variable, "")
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, value,
                                             now))
    return effects


def _released(tracker: CallTracker, linkedid: str, asked: list, now: float,
              reports: list, *, transfer_reads: list | None = None) -> dict:
    if transfer_reads is None:
        transfer_reads = _answer(tracker, linkedid, asked, now + 0.1)
    hangups = _answer(tracker, linkedid, transfer_reads, now + 0.2)
    assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, now + 0.3)
    [release] = [f for name, f in reports if name == "line-release"]
    return release


def test_a_question_asked_after_the_number_lookup_bounds_from_the_outage_start():
    linkedid, back = _picture(follow=True)
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=LOOKUP), report=written(reports))
    tracker.disconnected(0.0)
    sought = tracker.reconcile(back, OUTAGE)
    assert [type(e) for e in sought] == [FindNumber]  # the dial status waits for it
    now = OUTAGE + LOOKUP  # no record answered in time
    asked = tracker.due(now)
    assert "DIALSTATUS" in [r.variable for r in asked if isinstance(r, ReadVariable)]
    release = _released(tracker, linkedid, asked, now, reports)
    assert release["release_ms_is_upper_bound"] is True
    # the called party may have hung up as the outage began, at 0: 25.8 s before the end
    assert release["release_ms"] == pytest.approx((now + 0.3) * 1000, abs=1)
    assert release["within_limit"] is False


def test_a_follow_variable_read_late_bounds_from_the_outage_start():
    """No channelvars: the picture carries no CALLGUARD_FOLLOW, read with Getvar; its
    answer comes late (a busy Asterisk answers an action after the events queued before
    it, manager.c ``process_message`` runs a session's actions in order)."""
    linkedid, back = _picture(follow=False)
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    asked = tracker.reconcile(back, OUTAGE)
    reads = [r for r in asked if isinstance(r, ReadVariable) and r.variable == FOLLOW]
    assert reads
    now = OUTAGE + 1.0
    effects = []
    for read in reads:
        value = carried() if read.channel == CALLER_01[0] else None
        effects.extend(tracker.variable_read(linkedid, read.channel, FOLLOW, value, now))
    assert "DIALSTATUS" in [r.variable for r in effects if isinstance(r, ReadVariable)]
    release = _released(tracker, linkedid, effects, now, reports)
    assert release["release_ms"] == pytest.approx((now + 0.3) * 1000, abs=1)
    assert release["within_limit"] is False


def test_one_legs_answer_does_not_clear_another_legs_lost_question():
    """Two dialling legs asked after a restart (the lab's calling Local pair: ``;1`` runs
    the dialplan, ``;2`` its far half; both carry CALLGUARD_FOLLOW), ``;1``'s Getvars not
    answered in time (``_getvar`` reads None after ``action_timeout_ms``, as for a
    ``Response: Error``; a dropped session loses the later reads, so a dialling leg sorted
    second — ``PJSIP/…`` after ``Local/…`` — fares the same), ``;2``'s read "" (it never
    dialled). The bound of ``;1``'s question was shared by the call (``dial_status_since``)
    and ``;2``'s answer cleared it: ``;1``'s ANSWER found after the next outage was bounded
    by that outage alone — "at most 20.5 s, within 25 s" for a Dial() that may have been
    answered and hung up as early as the restart's outage began, 25.5 s before. Each leg
    keeps its own question's bound."""
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    dial_app = next(i for i, e in enumerate(events) if e.get("Channel") == CALLER_01[0]
                    and e.get("Application") == "Dial")
    picture = picture_at(events, dial_app)
    for item in picture:
        if item["Channel"] in CALLER_01:
            item["Application"] = "NoOp" if item["Channel"] == CALLER_01[0] else "Wait"
            item["ChanVariable"] = f"{FOLLOW}={carried()}"
    tracker.disconnected(0.0)
    asked = tracker.reconcile(picture, 5.0)
    assert {r.channel for r in asked if r.variable == "DIALSTATUS"} == set(CALLER_01)
    for read in asked:
        value = None if read.channel == CALLER_01[0] else ""
        assert tracker.variable_read(linkedid, read.channel, read.variable, value, 5.1) == []
    tracker.disconnected(5.2)  # AMI away for the whole Dial(): rung, answered, hung up
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"
    now = 25.2
    asked = tracker.reconcile(back, now)
    effects = []
    for read in asked:
        value = ({"DIALEDPEERNAME": CALLED_01, "DIALSTATUS": "ANSWER"}.get(read.variable, "")
                 if read.channel == CALLER_01[0] else "")
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, value,
                                             now + 0.1))
    release = _released(tracker, linkedid, [], now, reports, transfer_reads=effects)
    assert release["release_ms"] == pytest.approx(25_500, abs=1)
    assert release["within_limit"] is False


@pytest.mark.parametrize("channelvars", [True, False])
def test_an_originated_leg_ringing_at_a_restart_is_the_called_party(channelvars: bool):
    """An Originate straight to the customer whose pre-dial Gosub asked the gate (README:
    app_originate's ``b()``; dial.h ``AST_DIAL_OPTION_PREDIAL``): callguard restarts while
    the customer's phone rings. Asterisk lists that leg with ``Application: AppDial2``
    (dial.c ``begin_dial_prerun``: ``ast_channel_appl_set(channel->owner, "AppDial2")``,
    for every leg the dial API requests — AMI Originate, app_originate), not app_dial's
    ``AppDial``, and carrying the gate's CALLGUARD_FOLLOW (set on it by the pre-dial ALLOW).
    pbx_app.c ``pbx_exec`` restores the channel's application after each of the pre-dial
    Gosub's applications but publishes no snapshot then: the listing (the snapshot) says
    ``AppDial2`` again from the leg's next snapshot on — its ``Newstate`` Ringing
    (chan_pjsip.c ``chan_pjsip_incoming_response``, a 180); a far end answering 183 only
    leaves the pre-dial's last application listed, state Down (``_requested``;
    tests/test_review44_watchdog.py). Its Uniqueid is its Linkedid (lab
    ``originate-app-answered``: requested by no channel).

    Taken for nothing in particular, the leg's own dialplan's first DialBegin (its Queue()
    ringing the agent) made the AGENT the called party: the customer's hangup released
    nothing (the agent's leg kept up) and the line-release named the agent as called.
    Without channelvars the value is read with Getvar (``_learn``), to the same effect.

    SYNTHESISED from lab ``originate-app-answered`` (``straight_to_the_customer``, said
    there); the picture is ``picture_at``'s with the AppDial2 Asterisk writes, said here."""
    from tests.test_watchdog import AGENT, CUSTOMER, straight_to_the_customer

    events, agent_gone = straight_to_the_customer()
    ringing = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin") + 1
    follow = f"{FOLLOW}={carried()}"
    picture = picture_at(events, ringing)
    assert [i["Channel"] for i in picture] == [CUSTOMER]
    for item in picture:
        item["Application"] = "AppDial2"
        if channelvars:
            item["ChanVariable"] = follow
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile(picture, 10.0))
    if not channelvars:
        [read] = effects
        assert isinstance(read, ReadVariable)
        assert read.variable == FOLLOW
        effects = tracker.variable_read(read.linkedid, read.channel, FOLLOW, carried(), 10.05)
    now = 10.0
    for recorded in events[ringing:]:
        now += 0.1
        event = ({**recorded, "ChanVariable": follow}  # channelvars: the pre-dial ALLOW
                 if channelvars and recorded.get("Uniqueid") and "Channel" in recorded
                 else recorded)
        effects.extend(tracker.feed(event, now))
        effects.extend(tracker.due(now))
    now += 1.0
    effects.extend(tracker.due(now))
    assert {e.channel for e in effects if isinstance(e, HangupChannel)} == {AGENT}
    tracker.feed(agent_gone, now + 0.1)
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["called_channel"] == CUSTOMER
