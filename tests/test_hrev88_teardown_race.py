"""Reviewer hrev88: a release left unproven after a restart is a risk only if the line
stays held, not at the called party's hangup itself.

A power dialer (or the agent's phone) runs the shipped [callguard-dial] itself:
``PJSIP/agent7`` asks the gate and Dial()s the customer's leg (listed "AppDial"). callguard
restarts while they talk, with no number digest to check whom the leg was dialled to (a
node logging to stdout only; the record not found): the agent's channel, running Dial(),
may be a called party that dialled the leg (``_dialler_unknown``, hwd21/hrev81), so the
customer's hangup hangs up nothing. The agent's Dial() returns as the customer hangs up
(app_dial.c ``dial_exec_full``) and the dialplan's Hangup() ends the channel within
milliseconds: the whole call is gone inside the limit. Before, a violation risk was written
at the customer's hangup for every such call; now only when a channel is still up once the
teardown has had ``went_on_after_s``, or the call ends past the limit. The line-release
still says the release is unproven.

Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
)
from tests.test_watchdog import carried, written

CALL = "1795500000.0"
AGENT, CUSTOMER = "PJSIP/agent7-00000012", "PJSIP/itsp-00000011"
IDS = {AGENT: CALL, CUSTOMER: "1795500000.1"}
VALUE = carried(decision="d-hrev88", limit=5.0)


def _item(name: str, app: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": "b-d",
            "Duration": "00:01:00", "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}


def _gone(name: str) -> list[dict[str, str]]:
    base = {"Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL, "ChannelState": "6"}
    return [{**base, "Event": "BridgeLeave", "BridgeUniqueid": "b-d", "BridgeType": "basic"},
            {**base, "Event": "Hangup", "Cause": "16"}]


def _run(agent_after: float | None) -> tuple[set[str], list[tuple[str, dict]]]:
    """The customer hangs up; the agent's channel ``agent_after`` s later (None: never)."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
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
                    effects += tracker.variable_read(effect.linkedid, effect.channel,
                                                     effect.variable, "", now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(effect.linkedid, effect.decision_id,
                                                    None, now)

    tracker.disconnected(50.0)
    settle(tracker.reconcile([_item(AGENT, "Dial"), _item(CUSTOMER, "AppDial")], now))
    for event in _gone(CUSTOMER):
        now += 0.05
        settle(tracker.feed(event, now))
    hung_up_at, agent_up = now, True
    for _ in range(100):
        now += 0.1
        if agent_up and agent_after is not None and now - hung_up_at >= agent_after:
            agent_up = False
            for event in _gone(AGENT):
                settle(tracker.feed(event, now))
        settle(tracker.due(now))
    return hung, reports


def test_the_callers_dialplan_ending_the_call_at_once_is_no_risk() -> None:
    hung, reports = _run(agent_after=0.1)
    assert hung == set()
    assert not [f for name, f in reports if name == "violation-risk"]
    releases = [f for name, f in reports if name == "line-release"]
    assert len(releases) == 1
    assert releases[0]["release_unproven"] is True  # the hold is still recorded
    assert releases[0]["ended_by"] == "unknown (called party not proven)"


def test_control_a_channel_left_up_is_a_risk_within_the_limit() -> None:
    hung, reports = _run(agent_after=None)
    assert hung == set()  # it may be the customer: held back
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "not proven" in risks[0]["reason"]
    assert risks[0]["elapsed_ms"] <= 5000.0
    assert risks[0]["still_up"]


def test_the_call_ending_past_the_limit_is_a_risk() -> None:
    """Up past the settle window is already a risk; the record is written once."""
    hung, reports = _run(agent_after=6.0)
    assert hung == set()
    assert len([f for name, f in reports if name == "violation-risk"]) == 1
