"""Reviewer hrev81: hwd21's ``_picture_sibling`` (Dial(A&B) ringing in a restart's picture,
the leg that answers takes the called party's place) must not make a queue agent the called
party.

The dialer's ``;2`` asked the gate and Dial()ed the customer (Up); ``;1`` is in Queue()
with two Local members ringing agents 7 and 8 (each member's ``;2`` Dial()s the agent's
phone: app_dial.c ``dial_exec_full``, listed "AppDial", ringing). callguard restarts
without ``channelvars``; agent 7's leg is listed first (manager.c
``action_coreshowchannels`` keeps no order) and taken for the called party; the Getvars of
the agents' CALLGUARD_FOLLOW are not answered (None), so ``_carries_nothing`` cannot set
them aside. Agent 8 answers (his member's DialEnd ANSWER; app_queue.c ``ring_entry`` /
``wait_for_answer`` cancel agent 7): ``_picture_sibling`` took agent 8 for the other leg of
agent 7's Dial() — the called party — and agent 8's hangup hung up the customer, still on
the line through ``;2``. Before hwd21 nothing was hung up.

Nothing is hung up now; a violation risk says the release is not proven.
Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import TrackerSettings
from tests.picture_tracker import PictureRun
from tests.test_watchdog import carried

CALL = "1795400000.10"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
CUSTOMER = "PJSIP/itsp-0000002a"
MA1, MA2 = "Local/7@agents-0000001f;1", "Local/7@agents-0000001f;2"
MB1, MB2 = "Local/8@agents-00000020;1", "Local/8@agents-00000020;2"
AGENT7, AGENT8 = "PJSIP/agent7-0000002b", "PJSIP/agent8-0000002c"
IDS = {name: f"1795400000.{10 + i}" for i, name in
       enumerate([ONE, TWO, CUSTOMER, MA1, MA2, MB1, MB2, AGENT7, AGENT8])}
VALUE = carried(decision="d-hrev81-sibling")


def _item(name: str, app: str, state: str, bridge: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": state, "Application": app, "BridgeId": bridge,
            "Duration": "00:00:30"}


def _event(kind: str, name: str, **fields: str) -> dict[str, str]:
    return {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
            "ChannelState": "6", **fields}


def _dial_end(member: str, agent: str, status: str) -> dict[str, str]:
    return _event("DialEnd", member, DestChannel=agent, DestUniqueid=IDS[agent],
                  DestLinkedid=CALL, DialStatus=status)


def _enter(name: str, bridge: str) -> dict[str, str]:
    return _event("BridgeEnter", name, BridgeUniqueid=bridge, BridgeType="basic")


def test_agent8_answering_and_hanging_up_hangs_up_nobody() -> None:
    def answer(channel: str, variable: str) -> str | None:
        if variable == "CALLGUARD_FOLLOW":
            return (VALUE if channel in (TWO, CUSTOMER)
                    else None if channel in (AGENT7, AGENT8) else "")
        if (channel, variable) == (TWO, "DIALSTATUS"):
            return "ANSWER"
        if (channel, variable) == (TWO, "DIALEDPEERNAME"):
            return CUSTOMER
        return ""

    run = PictureRun(answer, settings=TrackerSettings(number_lookup_s=0.0))
    run.picture([
        _item(AGENT7, "AppDial", "5", ""), _item(CUSTOMER, "AppDial", "6", "b-d"),
        _item(TWO, "Dial", "6", "b-d"), _item(ONE, "Queue", "6", ""),
        _item(MA1, "AppQueue", "5", ""), _item(MA2, "Dial", "6", ""),
        _item(MB1, "AppQueue", "5", ""), _item(MB2, "Dial", "6", ""),
        _item(AGENT8, "AppDial", "5", "")])
    run.feed([_dial_end(MB2, AGENT8, "ANSWER"), _enter(MB2, "b-m"), _enter(AGENT8, "b-m"),
              _dial_end(MA2, AGENT7, "CANCEL"), _event("Hangup", AGENT7, Cause="26"),
              _event("Hangup", MA2, Cause="26"), _event("Hangup", MA1, Cause="26"),
              _enter(ONE, "b-q"), _enter(MB1, "b-q"),
              _event("BridgeLeave", AGENT8, BridgeUniqueid="b-m", BridgeType="basic"),
              _event("Hangup", AGENT8, Cause="16")])
    run.tick(40)
    hung, reports = run.hung, run.reports
    assert CUSTOMER not in hung
    assert hung == set()
    assert [f for name, f in reports if name == "violation-risk"]
