"""Review of hast18/hrev44's rule that a picture's leg requested by no channel carrying
the gate's value is the called party (``_learn`` -> ``_originated_in_picture``).

The rule is right for a value the leg carried AT the picture (a pre-dial ALLOW, set before
the leg was called: dial.c ``begin_dial_prerun`` runs the pre-dial Gosub before
``begin_dial_channel``'s ``ast_call``). ``_learn`` applied it also to a value that first
reached the tracker on a LIVE event's channel block (channelvars), after the picture
listed that leg carrying nothing: the value was set after the picture. A leg whose answer
was seen before its value came asked the gate from its own dialplan once answered (pbx.c
``pbx_outgoing_exec``: ``ast_dial_run``, then the PBX on the answered channel) — the
click-to-dial / agent-first shape, the CALLING side (``_read_asker``: "Up" as it asked).
Taken for the called party, what it then Dial()ed (the customer) was held as its own
dialplan's (``held_dials``): the leg's hangup released (hung up) the customer, and the
customer's hangup released nothing.

Reached when this tracker learns the decision from the channel only: another node's gate
answered (several nodes behind one Asterisk), so no ``follow`` came first. The events
after the answer carry the value from the gate's MSet on: a NewConnectedLine of the
asking leg (its dialplan's ``Set(CONNECTEDLINE(num)=...)`` before Dial(), stasis_channels.c
publishes a NewConnectedLine with the snapshot's channel variables), then the callee's
Newchannel and DialBegin (inherited ``__CALLGUARD_FOLLOW``).

SYNTHESISED from ``straight_to_the_customer`` (lab ``originate-app-answered``'s originated
leg, renamed; said in tests/test_watchdog.py) read as click-to-dial: the originated leg
(named ``CUSTOMER`` there) is the asking phone, the channel it dials (named ``AGENT``
there) the called party. The picture is ``picture_at``'s; the pure tracker on a synthetic
clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, HangupChannel, TrackerSettings
from callguard.watchdog.events import safe_channel
from tests.test_watchdog import (
    AGENT,
    CUSTOMER,
    carried,
    picture_at,
    straight_to_the_customer,
    written,
)

FOLLOW = "CALLGUARD_FOLLOW"
ASKER = CUSTOMER  # the originated leg: answers, then asks the gate (another node's)
CALLED = AGENT  # what its Dial() rang: the called party


def _click_to_dial_after_a_restart(*, called_hangs_up_first: bool):
    events, called_gone = straight_to_the_customer()
    ringing = next(i for i, e in enumerate(events) if e.get("Event") == "DialBegin") + 1
    answered = next(i for i, e in enumerate(events) if e.get("Event") == "DialEnd") + 1
    value = carried(origin="node-b")
    picture = picture_at(events, ringing)
    [item] = picture
    assert item["Channel"] == ASKER
    assert item["Application"] == "AppDial2"
    assert item["Uniqueid"] == item["Linkedid"]  # requested by no channel
    item["ChanVariable"] = f"{FOLLOW}="  # channelvars on: it carries nothing yet
    asker = {k: item[k] for k in ("Channel", "Uniqueid", "Linkedid")}
    # its dialplan, once answered: AGI() (node B's gate: the MSet), then
    # Set(CONNECTEDLINE(num)=...) and Dial() - from here on its blocks carry the value
    connected = {"Event": "NewConnectedLine", **asker, "ChannelState": "6",
                 "ConnectedLineNum": "8015550123"}
    live = [*events[ringing:answered], connected, *events[answered:]]
    carrying = {CALLED}  # inherited on its Newchannel already
    stamped = []
    for event in live:
        out = dict(event)
        if event is connected:
            carrying.add(ASKER)
        for prefix in ("", "Dest"):
            channel = event.get(f"{prefix}Channel")
            if channel in (ASKER, CALLED):
                out[f"{prefix}ChanVariable"] = (f"{FOLLOW}={value}" if channel in carrying
                                                else f"{FOLLOW}=")
        stamped.append(out)
    if called_hangs_up_first:
        # the called party hangs up first; the asking leg stays (Dial(...,g)): its end
        # cut off, the asker's BridgeLeave and Hangup are not replayed
        bridge_left = next(i for i, e in enumerate(stamped)
                           if e.get("Event") == "BridgeLeave")
        entered = [e for e in stamped[:bridge_left] if e.get("Event") == "BridgeEnter"
                   and e.get("Channel") == CALLED]
        keys = ("BridgeUniqueid", "Channel", "Uniqueid", "Linkedid")
        left = {"Event": "BridgeLeave", **{k: entered[0][k] for k in keys},
                "ChanVariable": f"{FOLLOW}={value}"}
        stamped = [*stamped[:bridge_left], left,
                   {**called_gone, "ChanVariable": f"{FOLLOW}={value}"}]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile(picture, 10.0))
    now = 10.0
    for event in stamped:
        now += 0.1
        effects.extend(tracker.feed(event, now))
        effects.extend(tracker.due(now))
    now += 1.0
    effects.extend(tracker.due(now))
    return tracker, reports, effects, asker


def test_the_asking_leg_answered_before_its_value_came_is_the_calling_side():
    """The called party hangs up first: the asking leg still up is released, and the
    record names the called party's channel. Before: the asking leg was the "called
    party", the real one's hangup released nothing (no Hangup, no line-release)."""
    tracker, reports, effects, asker = _click_to_dial_after_a_restart(
        called_hangs_up_first=True)
    assert {e.channel for e in effects if isinstance(e, HangupChannel)} == {ASKER}
    tracker.feed({"Event": "Hangup", **asker, "Cause": "16"}, 99.0)
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["called_channel"] == safe_channel(CALLED)
    assert record["ended_by"] == "called-party"


def test_the_asking_legs_hangup_does_not_hang_up_the_called_party():
    """The asking leg (the calling side) hangs up first, the called party still on the
    line: nothing is hung up. Before: taken for the called party, its hangup released
    the customer mid-call."""
    tracker, _, effects, _ = _click_to_dial_after_a_restart(called_hangs_up_first=False)
    assert CALLED not in {e.channel for e in effects if isinstance(e, HangupChannel)}
    call = next(iter(tracker.calls.values()))
    assert call.dest == CALLED


def test_an_agent_leg_dialled_for_the_answered_customer_after_a_restart_is_not_it():
    """hrev44's case seen live instead of in the picture: callguard restarts once the
    customer (an Originate straight to it, its pre-dial ALLOW on it) has answered and
    waits in the ARI dialer's application; the picture lists it alone, Up, carrying the
    value — no called party can be named from it. Then the dialer rings the agent for it:
    ``channels/create`` with ``originator`` = the customer (the leg takes its Linkedid and,
    dial.c ``begin_dial_prerun``: ``ast_channel_inherit_variables``, its
    ``__CALLGUARD_FOLLOW``) and ``channels/{id}/dial``, whose DialBegin has no caller block
    (res_stasis control.c ``app_control_dial``: ``ast_channel_publish_dial(NULL, chan, ...)``).
    ``_originated`` took that leg for the called party (a leg an Originate requested,
    carrying the value): the agent hung up first and the watchdog hung up the customer.
    Requested by a channel (DestUniqueid is not its DestLinkedid) and dialled to no number
    known to be the one allowed, the value it carries is its requestor's."""
    events, _ = straight_to_the_customer()
    answered = next(i for i, e in enumerate(events) if e.get("Event") == "DialEnd") + 1
    value = carried()
    [customer] = picture_at(events, answered)
    assert customer["Channel"] == CUSTOMER
    linkedid = customer["Linkedid"]
    assert customer["Uniqueid"] == linkedid
    customer.update(Application="Stasis", ChannelState="6",
                    ChanVariable=f"{FOLLOW}={value}")
    agent = {"Channel": AGENT, "Uniqueid": "1795326302.40", "Linkedid": linkedid}
    dest = {f"Dest{k}": v for k, v in agent.items()}
    carries = {"ChanVariable": f"{FOLLOW}={value}"}
    bridge = {"BridgeUniqueid": "5e0a0000-0000-4000-8000-0000000c0e48"}
    own = {k: customer[k] for k in ("Channel", "Uniqueid", "Linkedid")}
    live = [{"Event": "Newchannel", **agent, "ChannelState": "0", **carries},
            {"Event": "DialBegin", **dest, "DestChannelState": "0",
             "DestChanVariable": carries["ChanVariable"], "DialString": "agent"},
            {"Event": "DialEnd", **dest, "DestChannelState": "6",
             "DestChanVariable": carries["ChanVariable"], "DialStatus": "ANSWER"},
            {"Event": "BridgeEnter", **bridge, **own, **carries},
            {"Event": "BridgeEnter", **bridge, **agent, **carries},
            {"Event": "BridgeLeave", **bridge, **agent, **carries},
            {"Event": "Hangup", **agent, "Cause": "16", **carries}]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile([customer], 10.0))
    now = 10.0
    for event in live:
        now += 1.0
        effects.extend(tracker.feed(event, now))
        effects.extend(tracker.due(now))
    effects.extend(tracker.due(now + 30.0))
    assert CUSTOMER not in {e.channel for e in effects if isinstance(e, HangupChannel)}
    assert tracker.calls[linkedid].dest != AGENT


@pytest.mark.parametrize("number_known", [True, False])
def test_a_leg_requested_by_the_asking_channel_is_the_called_party(number_known: bool):
    """The control: agent first — the agent's channel asked the gate, then the ARI dialer
    requested the customer's leg with ``originator`` = the agent (its Linkedid, the value
    inherited, no caller block on its DialBegin). In a call seen from its start that leg
    is the called party, the number known (this node's gate: dialled to it) or not
    (another node's decision): its hangup releases the agent's channel still up."""
    from callguard.watchdog.calls import Followed, plain_digest

    linkedid = "1795326400.50"
    asker = {"Channel": "PJSIP/agent-00000050", "Uniqueid": linkedid, "Linkedid": linkedid}
    called = {"Channel": "PJSIP/itsp-00000051", "Uniqueid": "1795326400.51",
              "Linkedid": linkedid}
    dest = {f"Dest{k}": v for k, v in called.items()}
    bridge = {"BridgeUniqueid": "5e0a0000-0000-4000-8000-0000000c0e49"}
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.feed({"Event": "Newchannel", **asker, "ChannelState": "6"}, 0.0)
    tracker.follow(Followed("d-50", linkedid, "c", "predictive", 25.0, "Utah", "+1",
                            asker=asker["Channel"],
                            number_hash=plain_digest("+18015550123") if number_known
                            else ""))
    tracker.variable_read(linkedid, asker["Channel"], "CHANNEL(state)", "Up", 0.1)
    live = [{"Event": "Newchannel", **called, "ChannelState": "0"},
            {"Event": "DialBegin", **dest, "DialString": "itsp/+18015550123"},
            {"Event": "DialEnd", **dest, "DestChannelState": "6", "DialStatus": "ANSWER"},
            {"Event": "BridgeEnter", **bridge, **asker},
            {"Event": "BridgeEnter", **bridge, **called},
            {"Event": "BridgeLeave", **bridge, **called},
            {"Event": "Hangup", **called, "Cause": "16"}]
    effects: list = []
    now = 1.0
    for event in live:
        now += 1.0
        effects.extend(tracker.feed(event, now))
        effects.extend(tracker.due(now))
    assert {e.channel for e in effects if isinstance(e, HangupChannel)} == {asker["Channel"]}
