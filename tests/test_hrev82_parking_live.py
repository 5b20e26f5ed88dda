"""Reviewer hrev82: parking on the live event stream (no restart), after hwd21.

res_parking keeps ONE bridge per lot (parking_bridge.c ``bridge_parking_new``), holding every
call parked in it; a parked call that times out leaves it for the comeback extension
(parking_bridge_features.c ``parking_duration_callback``: ``ast_bridge_channel_leave_bridge``
then ``ast_async_parseable_goto``/``comeback_goto``) and its dialplan may Park() it again.

1. hwd21's ``_parked`` took the bridge the called party last left for the one its parker
   left it in. Re-parked from the comeback dialplan, that bridge is the lot: every other
   caller parked there was written into this call's record as ``transferred_by`` — other
   called parties' channels in the record of a call they had no part in.
2. A lot is a holding bridge (``bridge_base_init(..., AST_BRIDGE_CAPABILITY_HOLDING, ...)``;
   bridge_holding.c ``holding_bridge_write`` discards every frame of a participant that is
   not the announcer): parked callers hear no one. A called party parked on answer (AMI
   ``Park`` of the dialer's own: parking_manager.c ``manager_park_unbridged`` ->
   ``ast_bridge_add_channel``) into a lot holding another call's parked customer was taken
   for connected to a live person within 2 s (``agent_within_2s: true``): an abandoned call
   (47 CFR 64.1200(a)(7)) not counted as one.

SYNTHESISED events in the layout of ``test_hwd21_parking``.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings
from tests.test_watchdog import written
from tests.test_watchdog_examiner_threeway import (
    AGENT,
    AGENT_ID,
    AGENTS,
    CALL,
    CUSTOMER,
    CUSTOMER_ID,
    DIAL,
    ONE,
    ONE_ID,
    TWO,
    TWO_ID,
    UTAH,
    _bridge,
    _ch,
    _customer_with_the_agent,
    _hangup,
)

LOT = "b9-parking-lot"
COMEBACK, COMEBACK_ID = "PJSIP/agent7-0000002f", "1795326441.90"
# another call's customer, parked in the same lot before ours
OTHER, OTHER_ID = "PJSIP/itsp-00000099", "1795326000.10"


def _lot(event: str, name: str, uid: str, linkedid: str = CALL) -> dict[str, str]:
    return {**_bridge(event, LOT, name, uid), "BridgeType": "parking",
            "Linkedid": linkedid}


_OTHER_PARKED = [(0.5, {"Event": "Newchannel", **_ch(OTHER, OTHER_ID), "Linkedid": OTHER_ID}),
                 (0.01, _lot("BridgeEnter", OTHER, OTHER_ID, OTHER_ID))]


def _run(head: list[dict[str, str]], tail: list[tuple[float, dict[str, str]]],
         ) -> tuple[set[str], dict]:
    """``head`` (followed after its 6th event), ``tail`` (delay s, event), 6 s of ``due``:
    the channels hung up and the line-release record."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    at, hung = 10.0, set()
    for i, event in enumerate(head):
        at = 10.0 + i * 0.1
        tracker.feed(event, at)
        if i == 5:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    for delay, event in tail:
        at += delay
        effects = tracker.feed(event, at) + tracker.due(at)
        hung |= {e.channel for e in effects if isinstance(e, HangupChannel)}
    for _ in range(60):
        at += 0.1
        hung |= {e.channel for e in tracker.due(at) if isinstance(e, HangupChannel)}
    (release,) = [f for name, f in reports if name == "line-release"]
    return hung, release


# the agent parks the customer (parkcall), hears the space and hangs up; 45 s on the park
# times out, the comeback Dial() of the agent is not answered and the dialplan parks the
# customer again (Park()); the customer hangs up in the lot
_REPARKED = [(5.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
             (0.01, _lot("BridgeEnter", CUSTOMER, CUSTOMER_ID)),
             (2.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
             (0.01, _hangup(AGENT, AGENT_ID)),
             (45.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
             (0.01, {"Event": "Newchannel", **_ch(COMEBACK, COMEBACK_ID, "0")}),
             (0.01, {"Event": "DialBegin", **_ch(CUSTOMER, CUSTOMER_ID),
                     "DestChannel": COMEBACK, "DestUniqueid": COMEBACK_ID,
                     "DestLinkedid": CALL, "DialString": "agent7"}),
             (20.0, {"Event": "DialEnd", **_ch(CUSTOMER, CUSTOMER_ID),
                     "DestChannel": COMEBACK, "DestUniqueid": COMEBACK_ID,
                     "DestLinkedid": CALL, "DialStatus": "NOANSWER"}),
             (0.01, {"Event": "Hangup", "Cause": "19", **_ch(COMEBACK, COMEBACK_ID)}),
             (0.5, _lot("BridgeEnter", CUSTOMER, CUSTOMER_ID)),
             (30.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
             (0.01, _hangup(CUSTOMER, CUSTOMER_ID))]


def test_parked_again_from_the_comeback_others_parked_are_not_its_transferers() -> None:
    hung, release = _run(_customer_with_the_agent(), [*_OTHER_PARKED, *_REPARKED])
    assert hung == set()
    assert release["ended_by"] == "called-party"
    assert release["transferred_by"] == [AGENT]


def test_control_parked_again_with_the_lot_empty() -> None:
    hung, release = _run(_customer_with_the_agent(), _REPARKED)
    assert hung == set()
    assert release["transferred_by"] == [AGENT]


# the customer answered (the 10 first events: in its Dial() bridge with the dialer's ;2, no
# agent dialled yet); with no agent free the dialer parks it (AMI Park); 30 s on it hangs
# up in the lot and the dialer's pair is released
_PARKED_ON_ANSWER = [(0.3, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
                     (0.01, _lot("BridgeEnter", CUSTOMER, CUSTOMER_ID)),
                     (30.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
                     (0.01, _hangup(CUSTOMER, CUSTOMER_ID)),
                     (0.3, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
                     (0.01, _hangup(TWO, TWO_ID)),
                     (0.01, _hangup(ONE, ONE_ID))]


def test_a_caller_parked_in_the_lot_is_no_live_agent_for_the_called_party() -> None:
    hung, release = _run(_customer_with_the_agent()[:10], [*_OTHER_PARKED, *_PARKED_ON_ANSWER])
    assert release["agent_within_2s"] is False  # abandoned: 64.1200(a)(7)
    assert release["ended_by"] == "called-party"
    assert hung == {ONE, TWO}


def test_control_parked_on_answer_in_an_empty_lot() -> None:
    hung, release = _run(_customer_with_the_agent()[:10], _PARKED_ON_ANSWER)
    assert release["agent_within_2s"] is False
    assert hung == {ONE, TWO}


# The agent parks before the dialer's Local pair is optimised away (LocalOptimizationBegin
# not yet begun, or a pair that never is): the agent's bridge peer is ;1, and
# ``parking_blind_transfer_park`` parks ;1 (``ast_bridge_channel_peer``), the customer hearing
# the lot through the pair. The pair optimises away into the lot after (bridge.c
# ``try_swap_optimize_out``: the customer swapped in for ;1, parking_bridge.c
# ``bridge_parking_push`` with ``swap``, ParkedCallSwap); the customer hangs up in the lot.
_HALF_PARKED = [(5.0, _bridge("BridgeLeave", AGENTS, ONE, ONE_ID)),
                (0.01, _lot("BridgeEnter", ONE, ONE_ID)),
                (2.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                (0.01, _hangup(AGENT, AGENT_ID)),
                (0.5, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
                (0.01, {**_lot("BridgeEnter", CUSTOMER, CUSTOMER_ID), "SwapUniqueid": ONE_ID}),
                (0.01, _lot("BridgeLeave", ONE, ONE_ID)),
                (0.01, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
                (0.01, _hangup(ONE, ONE_ID)),
                (0.01, _hangup(TWO, TWO_ID)),
                (30.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
                (0.01, _hangup(CUSTOMER, CUSTOMER_ID))]


def test_parked_through_the_dialers_local_pair_the_called_party_ends_the_call() -> None:
    # the 15 first events: the agent bridged with ;1, the customer with ;2, no swap yet
    hung, release = _run(_customer_with_the_agent()[:15], _HALF_PARKED)
    assert hung == set()
    assert release["ended_by"] == "called-party"
    assert release["transferred_by"] == [AGENT]


def test_control_the_agent_hanging_up_through_the_pair_unparked_is_the_callers_end() -> None:
    """No park: the agent's hangup ends the call (the pair torn down, the customer hung up
    by its dissolving bridge)."""
    hung, release = _run(_customer_with_the_agent()[:15], [
        (5.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
        (0.01, _hangup(AGENT, AGENT_ID)),
        (0.01, _bridge("BridgeLeave", AGENTS, ONE, ONE_ID)),
        (0.01, _hangup(ONE, ONE_ID)),
        (0.01, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
        (0.01, _hangup(TWO, TWO_ID)),
        (0.01, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
        (0.01, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert hung == set()
    assert release["ended_by"] == "caller"


HOLD = "b13-bridgewait"


def _hold(event: str, name: str, uid: str, linkedid: str = CALL) -> dict[str, str]:
    """app_bridgewait.c ``wait_bridge_wrapper_alloc``: ``ast_bridge_base_new(
    AST_BRIDGE_CAPABILITY_HOLDING, ...)``, ``BridgeType: base`` (as a ConfBridge's) with
    ``BridgeTechnology: holding_bridge`` (manager_bridges.c
    ``ast_manager_build_bridge_state_string_prefix``); an ARI holding bridge likewise."""
    return {**_bridge(event, HOLD, name, uid), "BridgeType": "base",
            "BridgeTechnology": "holding_bridge", "Linkedid": linkedid}


def test_a_caller_held_in_a_shared_bridgewait_is_no_live_agent() -> None:
    """The answered customer sent to wait in BridgeWait() (an AMI Redirect) beside another
    call's waiting customer: nobody it hears, abandoned."""
    hung, release = _run(_customer_with_the_agent()[:10], [
        (0.5, {"Event": "Newchannel", **_ch(OTHER, OTHER_ID), "Linkedid": OTHER_ID}),
        (0.01, _hold("BridgeEnter", OTHER, OTHER_ID, OTHER_ID)),
        (0.3, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
        (0.01, _hold("BridgeEnter", CUSTOMER, CUSTOMER_ID)),
        (30.0, _hold("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
        (0.01, _hangup(CUSTOMER, CUSTOMER_ID)),
        (0.3, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
        (0.01, _hangup(TWO, TWO_ID)),
        (0.01, _hangup(ONE, ONE_ID))])
    assert release["agent_within_2s"] is False
    assert hung == {ONE, TWO}
