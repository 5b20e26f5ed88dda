"""Examiner hast11, lead (c): who hung up first, from the order of Asterisk 22's events.

The tracker takes the call's first Hangup event (after the answer; legs that lost, were
never called, or were optimised away or handed on left out) for the side that ended the
call; it reads no HangupRequest/SoftHangupRequest (manager.conf passes neither) and no
Cause. Both are right to leave out: channel.c ``ast_softhangup`` publishes
SoftHangupRequest with the AST_SOFTHANGUP_* flag as its "Cause" (16 = APPUNLOAD, on the
caller's legs too: lab call-05), and ``ast_queue_hangup_with_cause`` a HangupRequest on
the OTHER half of a Local pair; the Hangup's Cause is 16 whichever side hung up (lab
call-01 and call-05: every leg 16). A channel's Hangup is published by its own
``ast_hangup`` (manager_channels.c ``channel_state_change`` on the DEAD snapshot), after
it left its bridge and ran what dialplan it had left — so Hangups of two channels race,
while bridge.c ``bridge_channel_internal_pull`` publishes each BridgeLeave under the
bridge's lock, in the order the channels really left.

What these tests replay: lab call-01 and call-05 (exact streams, through the tracker),
and a SYNTHESISED stream (said here) of the shape the brief names: an agent's AgentLogin()
channel (app_agent_pool.c ``agent_request_exec``: the caller in ``ast_bridge_basic_new()``)
created long before the call, the dialer's Local pair optimised away (the customer
swapped in for ``;1``: BridgeEnter ``SwapUniqueid``, bridge.c ``try_swap_optimize_out``).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings
from tests.fake_ami import lab_events, linkedid_of, parse

UTAH = "Utah Code 13-25a-103(5)(e)"
AGENT, AGENT_ID = "PJSIP/agent7-00000003", "1795300000.7"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
ONE_ID, TWO_ID = "1795326441.77", "1795326441.78"
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795326441.80"
CALL = ONE_ID
DIAL_BRIDGE, AGENT_BRIDGE = "b2-dial", "b1-agent-request"


def _ch(name: str, uid: str, linkedid: str, state: str = "6") -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": linkedid, "ChannelState": state}


def _optimised_agent_call() -> list[dict[str, str]]:
    """Up to the customer talking with the agent in AgentRequest()'s basic bridge."""
    return [
        {"Event": "Newchannel", **_ch(AGENT, AGENT_ID, AGENT_ID, "4")},
        {"Event": "Newchannel", **_ch(ONE, ONE_ID, CALL, "0")},
        {"Event": "Newchannel", **_ch(TWO, TWO_ID, CALL, "4")},
        {"Event": "LocalBridge", "LocalOneChannel": ONE, "LocalTwoChannel": TWO,
         "LocalOneLinkedid": CALL, "LocalTwoLinkedid": CALL, "LocalOptimization": "Yes"},
        {"Event": "DialBegin", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialString": "s@dialer"},
        {"Event": "DialEnd", "DestChannel": ONE, "DestUniqueid": ONE_ID,
         "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        # the gate answers ;2 here (test: ``follow`` after this event)
        {"Event": "Newchannel", **_ch(CUSTOMER, CUSTOMER_ID, CALL, "0")},
        {"Event": "DialBegin", **_ch(TWO, TWO_ID, CALL), "DestChannel": CUSTOMER,
         "DestUniqueid": CUSTOMER_ID, "DestLinkedid": CALL, "DialString": "itsp/+18015550123"},
        {"Event": "DialEnd", **_ch(TWO, TWO_ID, CALL), "DestChannel": CUSTOMER,
         "DestUniqueid": CUSTOMER_ID, "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        {"Event": "BridgeEnter", "BridgeUniqueid": DIAL_BRIDGE, **_ch(TWO, TWO_ID, CALL)},
        {"Event": "BridgeEnter", "BridgeUniqueid": DIAL_BRIDGE,
         **_ch(CUSTOMER, CUSTOMER_ID, CALL)},
        # ;1 runs AgentRequest(): the agent is moved into the caller's basic bridge, every
        # member gets the oldest Linkedid (ast_bridge_channel_update_linkedids)
        {"Event": "BridgeEnter", "BridgeUniqueid": AGENT_BRIDGE, **_ch(ONE, ONE_ID, CALL)},
        {"Event": "BridgeEnter", "BridgeUniqueid": AGENT_BRIDGE,
         **_ch(AGENT, AGENT_ID, AGENT_ID)},
        # the pair optimised away: the customer swapped in for ;1
        {"Event": "BridgeLeave", "BridgeUniqueid": DIAL_BRIDGE,
         **_ch(CUSTOMER, CUSTOMER_ID, CALL)},
        {"Event": "BridgeEnter", "BridgeUniqueid": AGENT_BRIDGE, "SwapUniqueid": ONE_ID,
         **_ch(CUSTOMER, CUSTOMER_ID, AGENT_ID)},
        {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE, **_ch(ONE, ONE_ID, AGENT_ID)},
        {"Event": "BridgeLeave", "BridgeUniqueid": DIAL_BRIDGE, **_ch(TWO, TWO_ID, CALL)},
        {"Event": "Hangup", "Cause": "16", **_ch(ONE, ONE_ID, AGENT_ID)},
        {"Event": "Hangup", "Cause": "16", **_ch(TWO, TWO_ID, CALL)},
    ]


def _run(events: list[dict[str, str]], follow_after: int,
         ) -> tuple[list[tuple[str, dict]], list[object]]:
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    effects: list[object] = []
    for i, given in enumerate(events):
        # Asterisk 22 puts the bridge's snapshot on BridgeEnter/BridgeLeave (lab call-01:
        # ``BridgeType: basic`` for Dial()'s bridge); both bridges here are basic (Dial(),
        # and AgentRequest()'s ``ast_bridge_basic_new``), which ``_left_first`` reads.
        event = ({"BridgeType": "basic", **given}
                 if given["Event"] in ("BridgeEnter", "BridgeLeave") else given)
        effects += tracker.feed(event, 10.0 + i * 0.1)
        if i == follow_after:
            effects += tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                               "+4930123456", asker=TWO))
    return reports, effects


def _hangups(effects: list[object]) -> list[str]:
    return sorted(e.channel for e in effects if isinstance(e, HangupChannel))


def test_the_customer_hanging_up_in_the_agents_bridge_is_the_called_party():
    """The called party hangs up: its BridgeLeave is the bridge's first, its Hangup the
    call's first (the agent's channel is held by the agent's own call). Nothing of the
    call is left to release: recorded "caller" before the fix (``_called_party_gone``
    recorded the called party's end only when something was left to hang up)."""
    events = [*_optimised_agent_call(),
              {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE,
               **_ch(CUSTOMER, CUSTOMER_ID, AGENT_ID)},
              {"Event": "Hangup", "Cause": "16", **_ch(CUSTOMER, CUSTOMER_ID, AGENT_ID)}]
    reports, effects = _run(events, follow_after=5)
    assert _hangups(effects) == []  # nothing of the call is left; the agent is not touched
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 0.0


def test_the_agent_hanging_up_first_is_not_taken_for_the_called_party():
    """hast11 (c), fixed by hast12: the agent's AgentLogin() channel belongs to another
    call (its own Linkedid, held there), so its Hangup never counted for this one; the
    customer kicked by the dissolving bridge was then the call's first Hangup, recorded as
    the called party ending the call. The BridgeLeave order tells: the agent left the
    customer's bridge first, leaving no other person with it (bridge_channel.c
    ``bridge_channel_internal_pull`` publishes it before the others are pulled)."""
    events = [*_optimised_agent_call(),
              {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE,
               **_ch(AGENT, AGENT_ID, AGENT_ID)},
              {"Event": "Hangup", "Cause": "16", **_ch(AGENT, AGENT_ID, AGENT_ID)},
              {"Event": "BridgeLeave", "BridgeUniqueid": AGENT_BRIDGE,
               **_ch(CUSTOMER, CUSTOMER_ID, AGENT_ID)},
              {"Event": "Hangup", "Cause": "16", **_ch(CUSTOMER, CUSTOMER_ID, AGENT_ID)}]
    reports, effects = _run(events, follow_after=5)
    assert _hangups(effects) == []
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "caller"


@pytest.mark.parametrize(("scenario", "ended_by"), [
    ("call-01-answered-callee-hangs-up", "called-party"),
    ("call-05-answered-caller-hangs-up", "caller"),
    ("call-07-ami-hangup-action-cause21", "caller"),
])
def test_lab_streams_cause_and_requests_do_not_decide(scenario: str, ended_by: str):
    """Lab 22.10.1 streams, exact: every Hangup has Cause 16 in call-01 and call-05 (21
    only where an AMI Hangup set it, call-07), and SoftHangupRequest 16 appears on the
    side that did NOT hang up too; only the order of the Hangups decides. The requests are
    fed as well (a manager.conf without filters passes them): they change nothing."""
    events = [parse(e) for e in lab_events(scenario)]
    assert {e["Cause"] for e in events if e.get("Event") == "Hangup"} <= {"0", "16", "21"}
    linkedid = linkedid_of(lab_events(scenario))
    originate = next(i for i, e in enumerate(events)
                     if e.get("Event") == "DialEnd" and "Channel" not in e)
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    for i, event in enumerate(events):
        tracker.feed(event, 10.0 + i * 0.01)
        if i == originate:
            tracker.follow(Followed("d-1", linkedid, "c", "predictive", 25.0, UTAH, "+1"))
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == ended_by
