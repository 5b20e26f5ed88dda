"""hrev91: 45ebf6f's "unread number" path on an automated call whose called party really
hung up after a restart.

The shape of ``test_hrev88_teardown_race`` (SYNTHESISED there): a power dialer's (or the
agent's) phone ``PJSIP/agent7`` runs the shipped [callguard-dial] itself and Dial()s the
customer (listed "AppDial"). callguard restarts while they talk; the number's digest is at
hand (this node's decision record), but both DIALEDPEERNUMBER Getvars go unanswered
(ami.py ``_getvar`` gives None: every call's legs are asked at once after a restart). The
customer hangs up. Since 45ebf6f the agent's channel, running a Dial() of its own, may be
the called party (``_dialler_unknown``): nothing is hung up. What must then hold: a line
left up past ``went_on_after_s`` is a violation risk, written within the limit; the call
ending at once (the dialplan's Hangup() after Dial() returns) is none; the record never
claims who ended the call. Control: the agent's own number read names the customer's, and
the customer's hangup releases the agent's channel as before.

Pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_hrev88_teardown_race import AGENT, CUSTOMER, _gone, _item
from tests.test_watchdog import NUMBER, written

UNREAD = {(AGENT, "DIALEDPEERNUMBER"): None, (CUSTOMER, "DIALEDPEERNUMBER"): None,
          (AGENT, "DIALSTATUS"): "ANSWER"}
READ = {**UNREAD, (AGENT, "DIALEDPEERNUMBER"): NUMBER}


def _run(reads: dict, agent_after: float | None) -> tuple[set[str], list[tuple[str, dict]]]:
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0), report=written(reports))
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
                    effects += tracker.variable_read(
                        effect.linkedid, effect.channel, effect.variable,
                        reads.get((effect.channel, effect.variable), ""), now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(effect.linkedid, effect.decision_id,
                                                    plain_digest(NUMBER), now)

    tracker.disconnected(50.0)
    settle(tracker.reconcile([_item(AGENT, "Dial"), _item(CUSTOMER, "AppDial")], now))
    for _ in range(5):
        now += 0.2
        settle(tracker.due(now))
    for event in _gone(CUSTOMER):
        now += 0.05
        settle(tracker.feed(event, now))
    hung_up_at, agent_up = now, True
    for _ in range(100):
        now += 0.1
        if agent_up and (AGENT in hung or (agent_after is not None
                                           and now - hung_up_at >= agent_after)):
            agent_up = False
            for event in _gone(AGENT):
                settle(tracker.feed(event, now))
        settle(tracker.due(now))
    return hung, reports


def _of(reports: list[tuple[str, dict]], kind: str) -> list[dict]:
    return [fields for name, fields in reports if name == kind]


def test_unread_and_the_agents_channel_left_up_is_a_risk_within_the_limit():
    hung, reports = _run(UNREAD, agent_after=None)
    assert hung == set()  # it may be the called party: held back
    [risk] = _of(reports, "violation-risk")
    assert "not proven" in risk["reason"]
    assert risk["elapsed_ms"] <= 5000.0
    assert risk["still_up"] == [AGENT]


def test_unread_and_the_dialplan_ending_the_call_at_once_is_no_risk():
    hung, reports = _run(UNREAD, agent_after=0.1)
    assert hung == set()
    assert not _of(reports, "violation-risk")
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True


def test_control_read_the_customers_hangup_releases_the_agents_channel():
    hung, reports = _run(READ, agent_after=None)
    assert hung == {AGENT}
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert "release_unproven" not in record
