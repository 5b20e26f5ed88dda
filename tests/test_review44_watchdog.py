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
