"""Review of hast18's AppDial2 rule: a ringing leg the dial API requested, carrying the
gate's value in a restart's picture, is taken for the called party (``_rebuild_call``).

1. The value may be INHERITED. dial.c ``begin_dial_prerun`` names every leg the dial API
   requests "AppDial2" and, when a channel requests it, copies that channel's variables
   onto it (``ast_channel_inherit_variables``) — ``__CALLGUARD_FOLLOW`` included (two
   underscores: inherited without end). ARI's originate with an ``originator``
   (res/ari/resource_channels.c: ``ast_dial_prerun(dial, other, ...)``) and Page() request
   legs that way; such a leg has its requestor's Linkedid (channel_internal_api.c
   ``__ast_channel_internal_alloc``: ``tmp->linkedid = requestor->linkedid``), while a leg
   requested with none (AMI Originate, app_originate) has its own Uniqueid as Linkedid.
   An ARI predictive dialer ringing the agent for the answered customer: the agent's
   ringing leg carried the customer's value and was taken for the called party — the
   agent's hangup released (hung up) the customer, still on the line.
2. The value read with Getvar (no channelvars) came back after the leg's DialEnd ANSWER:
   taken for the called party NOT answered, the customer's hangup counted as one before
   the answer and released nothing (the agent's leg kept up, no line-release record).

SYNTHESISED from ``straight_to_the_customer`` (lab ``originate-app-answered``'s originated
leg, renamed; said in tests/test_watchdog.py), the pure tracker on a synthetic clock; the
pictures are ``picture_at``'s, with the fields Asterisk writes said here.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.test_watchdog import (
    AGENT,
    CUSTOMER,
    carried,
    picture_at,
    straight_to_the_customer,
    written,
)

FOLLOW = "CALLGUARD_FOLLOW"


@pytest.mark.parametrize("channelvars", [True, False])
def test_an_agent_leg_inheriting_the_customers_value_is_not_the_called_party(
        channelvars: bool):
    """callguard restarts while an ARI dialer rings the agent for the answered customer
    (originate with ``originator`` = the customer's channel). The picture: the customer Up
    in the dialer's application, carrying the gate's value; the agent's leg ringing,
    ``AppDial2``, with the customer's Linkedid and the value it inherited. The agent
    answers, then hangs up first (the dialer keeps the customer: an after-call message)."""
    events, _ = straight_to_the_customer()
    answered = next(i for i, e in enumerate(events) if e.get("Event") == "DialEnd") + 1
    follow = f"{FOLLOW}={carried()}"
    picture = picture_at(events, answered)
    [customer] = picture
    assert customer["Channel"] == CUSTOMER
    linkedid = customer["Linkedid"]
    assert customer["Uniqueid"] == linkedid  # requested with no channel: its own call
    customer["Application"] = "Stasis"
    agent = {"Channel": AGENT, "Uniqueid": "1795326302.40", "Linkedid": linkedid}
    picture.append({"Event": "CoreShowChannel", **agent, "ChannelState": "5",
                    "Application": "AppDial2", "BridgeId": ""})
    if channelvars:
        for item in picture:
            item["ChanVariable"] = follow
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile(picture, 10.0))
    if not channelvars:
        reads = [e for e in effects if isinstance(e, ReadVariable) and e.variable == FOLLOW]
        assert {r.channel for r in reads} == {CUSTOMER, AGENT}
        effects = []
        for read in reads:  # both carry it: the agent's inherited
            effects.extend(tracker.variable_read(linkedid, read.channel, FOLLOW, carried(),
                                                 10.05))
    dest = {f"Dest{k}": v for k, v in agent.items()}
    bridge = {"BridgeUniqueid": "5e0a0000-0000-4000-8000-0000000c0e12"}
    own = {"Channel": CUSTOMER, "Uniqueid": linkedid, "Linkedid": linkedid}
    live = [{"Event": "DialEnd", **dest, "DestChannelState": "6", "DialStatus": "ANSWER"},
            {"Event": "BridgeEnter", **bridge, **own},
            {"Event": "BridgeEnter", **bridge, **agent},
            {"Event": "BridgeLeave", **bridge, **agent},
            {"Event": "Hangup", **agent, "Cause": "16"}]
    now = 10.0
    for event in live:
        now += 1.0
        effects.extend(tracker.feed(event, now))
        effects.extend(tracker.due(now))
    now += 30.0
    effects.extend(tracker.due(now))
    assert CUSTOMER not in {e.channel for e in effects if isinstance(e, HangupChannel)}
    assert not [f for name, f in reports if name == "line-release"]


def test_an_answer_seen_before_the_follow_variables_getvar_answer_counts():
    """No channelvars: the picture's AppDial2 leg (the customer, its pre-dial ALLOW on it)
    carries nothing visible; its CALLGUARD_FOLLOW is read with Getvar, and the answer comes
    after the leg's DialEnd ANSWER (a restart with a thousand calls up reads a thousand
    variables; manager.c answers an action after the events queued before it). The
    customer then hangs up first: the agent's leg is released, and the record says so."""
    events, agent_gone = straight_to_the_customer()
    ringing = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin") + 1
    answer = next(i for i, e in enumerate(events) if e.get("Event") == "DialEnd")
    picture = picture_at(events, ringing)
    [item] = picture
    item["Application"] = "AppDial2"
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    [read] = tracker.reconcile(picture, 10.0)
    assert isinstance(read, ReadVariable)
    assert read.variable == FOLLOW
    now, effects = 10.0, []
    for recorded in events[ringing:answer + 1]:
        now += 0.1
        effects.extend(tracker.feed(recorded, now))
    effects.extend(tracker.variable_read(read.linkedid, read.channel, FOLLOW, carried(),
                                         now + 0.05))
    for recorded in events[answer + 1:]:
        now += 0.1
        effects.extend(tracker.feed(recorded, now))
        effects.extend(tracker.due(now))
    now += 1.0
    effects.extend(tracker.due(now))
    assert {e.channel for e in effects if isinstance(e, HangupChannel)} == {AGENT}
    tracker.feed(agent_gone, now + 0.1)
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["called_channel"] == CUSTOMER


def test_a_called_party_listed_in_a_picture_went_in_the_next_outage_not_the_first():
    """hast18 keeps when the outage a call was FIRST rebuilt after began (``rebuild_since``)
    and bounds a late question's release from it. A restart (AMI away 0-24.5 s) finds lab
    call-01 talking — the called party's ``AppDial`` leg listed — and seeks the number's
    digest in the decision record (up to 1 s). AMI drops again at 24.8 s; the called party
    hangs up meanwhile; the picture at 25.1 s no longer lists it. The lookup ends with
    nothing at 25.5 s and the calling legs are released: the called party was up at 24.5
    (listed) and until 24.8 (its Hangup would have been seen), so the release came at most
    1.0 s after its hangup. Bounded from 0, the line-release said "up to 25.8 s, not within
    the 25 s" (Utah 13-25a-103(5)(e)) with an outage of 25.5 s, and a violation-risk was
    written: false records for the compliance officer.

    REPLAYS lab call-01 (Asterisk 22.10.1) through the pure tracker; the pictures are
    ``picture_at``'s, SYNTHESISED from it (said in tests/test_watchdog.py)."""
    from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, lab_events, parse

    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    gone = next(i for i, e in enumerate(events) if e.get("Event") == "Hangup"
                and e.get("Channel") == CALLED_01)
    follow = f"{FOLLOW}={carried()}"
    talking = picture_at(events, gone - 3)
    assert "AppDial" in [item["Application"] for item in talking]
    after = [item for item in picture_at(events, gone + 1) if item["Channel"] in CALLER_01]
    for item in talking + after:
        item["ChanVariable"] = follow
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0), report=written(reports))
    tracker.disconnected(0.0)
    assert tracker.reconcile(talking, 24.5)  # FindNumber: the release waits for it
    tracker.disconnected(24.8)
    assert tracker.reconcile(after, 25.1) == []  # still waiting for the number
    reads = tracker.due(25.5)  # no record found in time: the transfer variables, then
    effects = []
    for read in reads:
        assert isinstance(read, ReadVariable)
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, "",
                                             25.55))
    assert sorted(e.channel for e in effects if isinstance(e, HangupChannel)) == CALLER_01
    for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
        tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                      "Uniqueid": uniqueid, "Cause": "16"}, 25.8)
    assert not [f for name, f in reports if name == "violation-risk"]
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["release_ms"] == pytest.approx(1000.0, abs=1)
    assert release["ami_outage_s"] == pytest.approx(0.7, abs=0.001)
    assert release["release_ms_is_upper_bound"] is True
    assert release["within_limit"] is True


@pytest.mark.parametrize("channelvars", [True, False])
def test_a_pre_dial_leg_listed_with_its_gosubs_last_application_is_the_called_party(
        channelvars: bool):
    """The customer's leg of an Originate whose pre-dial Gosub asked the gate, its far end
    answering 183 (early media) and no 180: pbx_app.c ``pbx_exec`` restored the channel's
    application to ``AppDial2`` after the Gosub's ``Return`` without publishing a snapshot,
    and nothing published one since (chan_pjsip.c sets Ringing on a 180 only), so the
    listing says ``Return``, state Down. Requested by no channel (Uniqueid = Linkedid),
    Down, carrying the pre-dial ALLOW: the called party, as when listed ``AppDial2``
    (hast18's test of that, test_asterisk18_watchdog.py). Taken for nothing, its own
    Queue()'s agent became the called party and the customer's hangup released nothing.

    SYNTHESISED from ``straight_to_the_customer`` (lab ``originate-app-answered``), the
    picture ``picture_at``'s with the fields said here; the pure tracker, synthetic clock."""
    events, agent_gone = straight_to_the_customer()
    ringing = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin") + 1
    follow = f"{FOLLOW}={carried()}"
    picture = picture_at(events, ringing)
    [item] = picture
    assert item["Channel"] == CUSTOMER
    assert item["Uniqueid"] == item["Linkedid"]
    item.update(Application="Return", ChannelState="0")
    if channelvars:
        item["ChanVariable"] = follow
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile(picture, 10.0))
    if not channelvars:
        [read] = effects
        assert isinstance(read, ReadVariable)
        effects = tracker.variable_read(read.linkedid, read.channel, FOLLOW, carried(), 10.05)
    now = 10.0
    for recorded in events[ringing:]:
        now += 0.1
        event = ({**recorded, "ChanVariable": follow}
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
