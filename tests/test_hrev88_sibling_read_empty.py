"""Reviewer hrev88: a picture's AppDial leg READ carrying no CALLGUARD_FOLLOW (no
channelvars) is no sibling of the called party, as one LISTED so is not.

A dialer's Local pair: ``;2`` runs the shipped [callguard-dial] and Dial()s the customer,
``;1`` Dial()s the agent's phone. callguard restarts while both ring; without channelvars
the picture cannot say which AppDial leg is whose, and the Getvar reads say the agent's
carries nothing (app_dial.c ``dial_exec_full`` copies ``__CALLGUARD_FOLLOW`` only from the
channel that asked: ``;1`` never did), so the customer's leg is taken (``_carries_nothing``).
The agent then answers. ``_picture_sibling`` took that answer for the other leg of the
customer's Dial() (it checked the listing only): the agent became the called party, its
hangup released the Local pair — and so the customer, bridged with ``;2`` — and the call
was counted abandoned though the agent answered. Control: with channelvars (the agent's leg
listed carrying nothing) nothing is hung up and the call is not abandoned.

Synthetic events; pure tracker, synthetic clock.
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

CALL = "1795600000.0"
L1 = "Local/8015550123@callguard-example-predictive-00000020;1"
L2 = "Local/8015550123@callguard-example-predictive-00000020;2"
CUSTOMER, AGENT = "PJSIP/itsp-00000021", "PJSIP/agent7-00000022"
IDS = {L1: CALL, L2: "1795600000.1", CUSTOMER: "1795600000.2", AGENT: "1795600000.3"}
VALUE = carried(decision="d-hrev88-sibling")
CARRIES = {L2: VALUE, CUSTOMER: VALUE, L1: "", AGENT: ""}


def _item(name: str, app: str, *, channelvars: bool) -> dict[str, str]:
    item = {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "5" if app == "AppDial" else "6",
            "Application": app, "BridgeId": "", "Duration": "00:00:10"}
    if channelvars:
        item["ChanVariable"] = f"CALLGUARD_FOLLOW={CARRIES[name]}"
    return item


def _answer(dialler: str, leg: str, bridge: str) -> list[dict[str, str]]:
    def enter(name: str) -> dict[str, str]:
        return {"Event": "BridgeEnter", "Channel": name, "Uniqueid": IDS[name],
                "Linkedid": CALL, "ChannelState": "6", "BridgeUniqueid": bridge,
                "BridgeType": "basic"}
    return [{"Event": "DialEnd", "Channel": dialler, "Uniqueid": IDS[dialler], "Linkedid": CALL,
             "DestChannel": leg, "DestUniqueid": IDS[leg], "DestLinkedid": CALL,
             "DialStatus": "ANSWER"}, enter(dialler), enter(leg)]


def _gone(name: str, bridge: str) -> list[dict[str, str]]:
    base = {"Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL, "ChannelState": "6"}
    return [{**base, "Event": "BridgeLeave", "BridgeUniqueid": bridge, "BridgeType": "basic"},
            {**base, "Event": "Hangup", "Cause": "16"}]


def _run(*, channelvars: bool) -> tuple[set[str], list[bool], list[tuple[str, dict]]]:
    reports: list[tuple[str, dict]] = []
    abandoned: list[bool] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports),
                          answered=lambda campaign, gone, decision: abandoned.append(gone))
    hung: set[str] = set()
    now = 80.0

    def settle(effects: list) -> None:
        nonlocal now
        while effects:
            done, effects = effects, []
            for effect in done:
                now += 0.01
                if isinstance(effect, HangupChannel):
                    hung.add(effect.channel)
                elif isinstance(effect, ReadVariable):
                    value = (CARRIES.get(effect.channel, "")
                             if effect.variable == "CALLGUARD_FOLLOW" else "")
                    effects += tracker.variable_read(effect.linkedid, effect.channel,
                                                     effect.variable, value, now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(effect.linkedid, effect.decision_id,
                                                    None, now)

    def run(events: list[dict[str, str]], ticks: int) -> None:
        nonlocal now
        for event in events:
            now += 0.1
            settle(tracker.feed(event, now))
        for _ in range(ticks):
            now += 0.1
            settle(tracker.due(now))

    tracker.disconnected(50.0)
    settle(tracker.reconcile([_item(L1, "Dial", channelvars=channelvars),
                              _item(AGENT, "AppDial", channelvars=channelvars),
                              _item(L2, "Dial", channelvars=channelvars),
                              _item(CUSTOMER, "AppDial", channelvars=channelvars)], now))
    run(_answer(L1, AGENT, "b-q"), 10)
    run(_answer(L2, CUSTOMER, "b-d"), 30)
    run(_gone(AGENT, "b-q"), 30)  # the agent hangs up; the customer talks on
    return hung, abandoned, reports


@pytest.mark.parametrize("channelvars", [False, True])
def test_the_agents_answer_is_not_the_called_party(channelvars: bool) -> None:
    hung, abandoned, _ = _run(channelvars=channelvars)
    assert hung == set()  # the customer (through ;2) talks on
    assert abandoned == [False]  # the agent was reached
