"""Examiner hwd21: after a restart, an agent's AppDial leg is not the called party.

A queue whose members are Local channels (``Local/7@agents/n``, the usual way to ring a
phone through its own dialplan) reaches the agent's phone by a Dial() in the member's
``;2``: app_dial.c ``dial_exec_full`` requests that leg, and its snapshot names its
application "AppDial" (the same as the customer's leg, dialled by the dialer's ``;2``).
callguard restarted mid-call: the CoreShowChannels picture lists two AppDial legs in one
call (manager.c ``action_coreshowchannels`` walks the channel cache in no set order) and
``_rebuild_call`` took the first listed for the called party. With the agent's leg first
and no number digest to check it against (``number_lookup_s`` 0: the node logs to stdout
only, or the decision's record was not found — another node's decision), the agent's
hangup "released" the rest: the customer, still in the call with the dialer's ``;1`` going
on after Queue() (``c``: app_queue.c OPT_GO_ON, a survey), was hung up.

With manager.conf's ``channelvars = CALLGUARD_FOLLOW`` the picture says which leg cannot be
the called party: the gate's ALLOW sets ``__CALLGUARD_FOLLOW`` on the asking channel before
its Dial(), and app_dial.c ``dial_exec_full`` copies it to the leg it requests
(``ast_channel_inherit_variables``); a leg listed with it empty was dialled by a channel
that never asked (the member's ``;2``, created by ``;1``'s Queue(), which carries nothing).
Without channelvars the same is read with Getvar (the picture's legs are asked for the
variable to follow the call again at all): an unset one is "Success" with an empty Value.

Synthetic events in the layout of ``test_watchdog_examiner_went_on`` and
``test_review74_originated_queue``; pure tracker, synthetic clock.
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
from tests.test_watchdog import carried, written

CALL = "1795400000.10"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
CUSTOMER = "PJSIP/itsp-0000002a"
MEMBER_1, MEMBER_2 = "Local/7@agents-0000001f;1", "Local/7@agents-0000001f;2"
AGENT = "PJSIP/agent7-0000002b"
IDS = {ONE: CALL, TWO: "1795400000.11", CUSTOMER: "1795400000.12",
       MEMBER_1: "1795400000.13", MEMBER_2: "1795400000.14", AGENT: "1795400000.15"}
FOLLOW = f"CALLGUARD_FOLLOW={carried(decision='d-hwd21')}"
NOTHING = "CALLGUARD_FOLLOW="  # channelvars on, the variable unset on that channel


CARRIERS = {TWO, CUSTOMER}  # ``;2`` asked the gate, and Dial()ed the customer


def _item(name: str, app: str, bridge: str, channelvars: bool) -> dict[str, str]:
    item = {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": bridge,
            "Duration": "00:00:40"}
    if channelvars:
        item["ChanVariable"] = FOLLOW if name in CARRIERS else NOTHING
    return item


def _picture(agent_first: bool, channelvars: bool) -> list[dict[str, str]]:
    """Customer with ``;2`` (its Dial() bridge), ``;1`` in Queue() with the member ``;1``,
    the member's ``;2`` Dial()ed the agent's phone: two AppDial legs."""
    agent = _item(AGENT, "AppDial", "b-member", channelvars)
    customer = _item(CUSTOMER, "AppDial", "b-dial", channelvars)
    rest = [_item(TWO, "Dial", "b-dial", channelvars),
            _item(ONE, "Queue", "b-queue", channelvars),
            _item(MEMBER_1, "AppQueue", "b-queue", channelvars),
            _item(MEMBER_2, "Dial", "b-member", channelvars)]
    return ([agent, customer] if agent_first else [customer, agent]) + rest


def _event(kind: str, name: str, bridge: str = "") -> dict[str, str]:
    event = {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
             "ChannelState": "6"}
    if bridge:
        event.update(BridgeUniqueid=bridge, BridgeType="basic")
    else:
        event["Cause"] = "16"
    return event


def _run(agent_first: bool, tail: list[dict[str, str]], *, lookup_s: float,
         channelvars: bool = True) -> tuple[set[str], list[tuple[str, dict]]]:
    """Restart, the picture, every read answered (CALLGUARD_FOLLOW on the carriers, any
    other variable unset: empty; the number's record not found), then ``tail`` 0.1 s apart
    and 3 s of ``due``: the channels hung up."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=lookup_s), report=written(reports))
    tracker.disconnected(50.0)
    now = 80.0
    todo = tracker.reconcile(_picture(agent_first, channelvars), now)
    hung: set[str] = set()

    def settle(effects: list) -> None:
        nonlocal now
        while effects:
            done, effects = effects, []
            for effect in done:
                now += 0.01
                if isinstance(effect, HangupChannel):
                    hung.add(effect.channel)
                elif isinstance(effect, ReadVariable):
                    carries = (effect.variable == "CALLGUARD_FOLLOW"
                               and effect.channel in CARRIERS)
                    value = FOLLOW.split("=", 1)[1] if carries else ""
                    effects += tracker.variable_read(effect.linkedid, effect.channel,
                                                     effect.variable, value, now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(effect.linkedid, effect.decision_id,
                                                    None, now)

    settle(todo)
    for event in tail:
        now += 0.1
        settle(tracker.feed(event, now))
    for _ in range(30):
        now += 0.1
        settle(tracker.due(now))
    return hung, reports


# The agent hangs up: the member pair goes, Queue(...,c) returns, ``;1`` goes on (a
# survey) and the customer is still on the line through ``;2``.
_AGENT_HANGS_UP = [
    _event("BridgeLeave", AGENT, "b-member"), _event("Hangup", AGENT),
    _event("BridgeLeave", MEMBER_2, "b-member"), _event("Hangup", MEMBER_2),
    _event("BridgeLeave", MEMBER_1, "b-queue"), _event("Hangup", MEMBER_1),
    _event("BridgeLeave", ONE, "b-queue"),
]
# ... then the customer hangs up: the dialer's pair, still up, is to be released.
_CUSTOMER_HANGS_UP = [_event("BridgeLeave", CUSTOMER, "b-dial"), _event("Hangup", CUSTOMER)]


@pytest.mark.parametrize("channelvars", [True, False])
@pytest.mark.parametrize("lookup_s", [0.0, 1.0])
@pytest.mark.parametrize("agent_first", [True, False])
def test_the_agents_hangup_hangs_up_nobody(agent_first: bool, lookup_s: float,
                                           channelvars: bool) -> None:
    hung, _ = _run(agent_first, _AGENT_HANGS_UP, lookup_s=lookup_s, channelvars=channelvars)
    assert CUSTOMER not in hung
    assert hung == set()


@pytest.mark.parametrize("channelvars", [True, False])
@pytest.mark.parametrize("agent_first", [True, False])
def test_the_customers_later_hangup_releases_the_dialer(agent_first: bool,
                                                        channelvars: bool) -> None:
    hung, _ = _run(agent_first, _AGENT_HANGS_UP + _CUSTOMER_HANGS_UP, lookup_s=0.0,
                   channelvars=channelvars)
    assert {ONE, TWO} <= hung
    assert CUSTOMER not in hung


@pytest.mark.parametrize("channelvars", [True, False])
@pytest.mark.parametrize("agent_first", [True, False])
def test_the_customers_hangup_releases_the_rest(agent_first: bool, channelvars: bool) -> None:
    hung, reports = _run(agent_first, _CUSTOMER_HANGS_UP, lookup_s=0.0,
                         channelvars=channelvars)
    assert {ONE, TWO, MEMBER_1, MEMBER_2, AGENT} <= hung
    assert not [f for name, f in reports if name == "violation-risk"]


def test_control_nothing_carries_the_value_the_appdial_leg_is_still_the_called_party() -> None:
    """The gate of this node allowed the call but could not set the variable (node.py
    ``follow_variable``: a value too long), so no channel carries it and every item lists
    it empty: that says nothing of who dialled whom. The call began while AMI was away; the
    picture's AppDial leg is the customer, and its hangup releases the dialer's pair."""
    from callguard.watchdog.calls import Followed

    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    for read in tracker.follow(Followed("d-long", CALL, "c", "predictive", 25.0,
                                        "Utah Code 13-25a-103(5)(e)", "+4930123456",
                                        asker=TWO)):
        tracker.variable_read(read.linkedid, read.channel, read.variable, None, 51.0)
    picture = [{**_item(name, app, bridge, channelvars=True), "ChanVariable": NOTHING}
               for name, app, bridge in ((CUSTOMER, "AppDial", "b-dial"),
                                         (TWO, "Dial", "b-dial"), (ONE, "Queue", "b-q"))]
    effects = tracker.reconcile(picture, 80.0)
    effects += tracker.feed(_event("BridgeLeave", CUSTOMER, "b-dial"), 85.0)
    effects += tracker.feed(_event("Hangup", CUSTOMER), 85.01)
    for tick in range(1, 30):
        effects += tracker.due(85.01 + tick * 0.1)
    assert {e.channel for e in effects if isinstance(e, HangupChannel)} == {ONE, TWO}
