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
