"""Examiner hwd21: an agent parks the called party; the called party hangs up in the lot.

res_parking's park feature (features.conf ``parkcall``, Dial() ``k``/``K``:
parking_bridge_features.c ``parking_park_call`` -> ``parking_blind_transfer_park`` ->
``ast_bridge_channel_write_park``)
publishes no BlindTransfer — only a blind transfer to the lot's extension does (bridge.c
``ast_bridge_transfer_blind`` publishes after ``try_parking``). ``parking_park_bridge_channel``
moves the parkee (``ast_bridge_move``: BridgeLeave, then BridgeEnter of the lot's bridge,
``BridgeType: parking``, parking_bridge.c ``ast_bridge_parking_v_table``); the parker then
hears the space (``say_parking_space``) and leaves and hangs up (``hangup_after``).

The tracker took the parker's hangup for the call's first: the called party's own hangup in
the lot (ParkedCallGiveUp) was recorded ``ended_by: caller`` with no release measured — a
record saying the dialer's side ended a call the called party ended. The park hands the
call on, as a transfer does (``transferred_by``). And a parked call's timeout sends the
customer to its comeback extension, where it Dial()s the parker again: the watch goes on.

The agent is reached as in ``test_watchdog_examiner_threeway`` (the dialer's Local pair
optimised away, the customer swapped into the agent's bridge). SYNTHESISED events.
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
    TWO,
    UTAH,
    _bridge,
    _ch,
    _customer_with_the_agent,
    _hangup,
)

LOT = "b9-parking-lot"
COMEBACK, COMEBACK_ID = "PJSIP/agent7-0000002f", "1795326441.90"


def _lot(event: str, name: str, uid: str) -> dict[str, str]:
    return {**_bridge(event, LOT, name, uid), "BridgeType": "parking"}


def _run(tail: list[tuple[float, dict[str, str]]]) -> tuple[set[str], list[tuple[str, dict]]]:
    """The call (followed after its 6th event), then ``tail`` (delay s, event), then 5 s of
    ``due``: the channels hung up and the records."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    at, hung = 10.0, set()
    for i, event in enumerate(_customer_with_the_agent()):
        at = 10.0 + i * 0.1
        tracker.feed(event, at)
        if i == 5:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    for delay, event in tail:
        at += delay
        effects = tracker.feed(event, at) + tracker.due(at)
        hung |= {e.channel for e in effects if isinstance(e, HangupChannel)}
    for _ in range(50):
        at += 0.1
        hung |= {e.channel for e in tracker.due(at) if isinstance(e, HangupChannel)}
    return hung, reports


_PARKED = [(5.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
           (0.01, _lot("BridgeEnter", CUSTOMER, CUSTOMER_ID)),
           (2.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
           (0.01, _hangup(AGENT, AGENT_ID))]
_GIVES_UP = [(30.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
             (0.01, _hangup(CUSTOMER, CUSTOMER_ID))]
# ParkedCallTimeOut: the customer leaves the lot for the comeback extension and Dial()s
# the parker (its DialBegin names the customer as the caller); the agent answers
_COMEBACK = [(45.0, _lot("BridgeLeave", CUSTOMER, CUSTOMER_ID)),
             (0.01, {"Event": "Newchannel", **_ch(COMEBACK, COMEBACK_ID, "0")}),
             (0.01, {"Event": "DialBegin", **_ch(CUSTOMER, CUSTOMER_ID),
                     "DestChannel": COMEBACK, "DestUniqueid": COMEBACK_ID,
                     "DestLinkedid": CALL, "DialString": "agent7"}),
             (5.0, {"Event": "DialEnd", **_ch(CUSTOMER, CUSTOMER_ID),
                    "DestChannel": COMEBACK, "DestUniqueid": COMEBACK_ID,
                    "DestLinkedid": CALL, "DialStatus": "ANSWER"}),
             (0.01, _bridge("BridgeEnter", "b10", CUSTOMER, CUSTOMER_ID)),
             (0.01, _bridge("BridgeEnter", "b10", COMEBACK, COMEBACK_ID))]


def test_the_called_partys_hangup_in_the_lot_is_recorded_as_its_own() -> None:
    hung, reports = _run(_PARKED + _GIVES_UP)
    assert hung == set()
    (release,) = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "called-party"
    assert release["transferred_by"] == [AGENT]
    assert release["within_limit"] is True


def test_control_parked_by_a_blind_transfer_to_the_lot() -> None:
    """The BlindTransfer a transfer to the lot's extension publishes names the parker."""
    blind = {"Event": "BlindTransfer", "Result": "Success", "IsExternal": "Yes",
             "Extension": "700", "Context": "parkedcalls",
             **{f"Transferer{k}": v for k, v in _ch(AGENT, AGENT_ID).items()},
             **{f"Transferee{k}": v for k, v in _ch(CUSTOMER, CUSTOMER_ID).items()}}
    hung, reports = _run([(5.0, blind), *_PARKED, *_GIVES_UP])
    assert hung == set()
    (release,) = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "called-party"


def test_control_after_the_comeback_the_customers_hangup_releases_the_agent() -> None:
    hung, _ = _run([*_PARKED, *_COMEBACK,
                    (20.0, _bridge("BridgeLeave", "b10", CUSTOMER, CUSTOMER_ID)),
                    (0.01, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert hung == {COMEBACK}


def test_control_after_the_comeback_the_agents_hangup_leaves_the_customer() -> None:
    hung, _ = _run([*_PARKED, *_COMEBACK,
                    (20.0, _bridge("BridgeLeave", "b10", COMEBACK, COMEBACK_ID)),
                    (0.01, _hangup(COMEBACK, COMEBACK_ID)),
                    (0.01, _bridge("BridgeLeave", "b10", CUSTOMER, CUSTOMER_ID))])
    assert hung == set()
