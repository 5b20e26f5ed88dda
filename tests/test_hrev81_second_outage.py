"""Reviewer hrev81: the customer running a Dial() of its own, seen in a restart's picture,
is not hung up when the AppDial leg it dialled goes in a SECOND outage.

hwd21 (``test_hwd21_transfer_restart``) kept the customer after an agent's blind transfer
(bridge.c ``ast_bridge_transfer_blind``: the customer's own channel Dial()s agent 9) from
being hung up when agent 9's leg — taken from the picture for the called party, with no
number digest to check it — hangs up while AMI is up. The same end in a second outage was
not kept: agent 9 hangs up while AMI is away, app_dial.c ``dial_exec_full`` returns and
the customer goes on in its dialplan (a survey: the next picture lists it ``Playback``,
no longer ``Dial``), and the next picture's ``_resume_dest_gone`` ->
``_release_after_outage`` hung the customer up, with no record saying why.

Synthetic events in the layout of ``test_hwd21_transfer_restart``; pure tracker, synthetic
clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_hwd21_transfer_restart import AGENT9, AGENT9_ID, CUSTOMER, CUSTOMER_ID, _ch, _item
from tests.test_watchdog import NUMBER, written


def _run(*, after: str, found: bool, reached: str,
         tail: list[dict[str, str]] = ()) -> tuple[set[str], list[tuple[str, dict]]]:
    """Restart: the customer (``Dial``) talks to agent 9 (``AppDial``); AMI away again,
    agent 9's leg goes meanwhile; the next picture lists the customer alone, running
    ``after``; then ``tail`` and 6 s of ``due``. ``reached``: DIALEDPEERNUMBER of both."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0 if found else 0.0),
                          report=written(reports))
    values = {(AGENT9, "DIALEDPEERNUMBER"): reached, (CUSTOMER, "DIALEDPEERNUMBER"): reached,
              (CUSTOMER, "DIALSTATUS"): "ANSWER", (CUSTOMER, "DIALEDPEERNAME"): AGENT9}
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
                        values.get((effect.channel, effect.variable), ""), now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(
                        effect.linkedid, effect.decision_id,
                        plain_digest(NUMBER) if found else None, now)

    tracker.disconnected(50.0)
    settle(tracker.reconcile([_item(AGENT9, AGENT9_ID, "AppDial"),
                              _item(CUSTOMER, CUSTOMER_ID, "Dial")], now))
    for _ in range(10):
        now += 0.1
        settle(tracker.due(now))
    tracker.disconnected(now)
    now += 5.0
    alone = {**_item(CUSTOMER, CUSTOMER_ID, after), "BridgeId": ""}
    settle(tracker.reconcile([alone], now))
    for event in tail:
        now += 0.1
        settle(tracker.feed(event, now))
    for _ in range(60):
        now += 0.1
        settle(tracker.due(now))
    return hung, reports


@pytest.mark.parametrize("after", ["Playback", "AGI", "Dial"])
def test_the_customer_left_after_a_second_outage_is_not_hung_up(after: str) -> None:
    hung, reports = _run(after=after, found=False, reached="agent9")
    assert hung == set()
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "could not be checked" in risks[0]["reason"]
    assert "8015550123" not in str(reports)


def test_its_line_release_says_the_called_party_is_not_proven() -> None:
    hung, reports = _run(after="Playback", found=False, reached="agent9",
                         tail=[{"Event": "Hangup", "Cause": "16",
                                **_ch(CUSTOMER, CUSTOMER_ID)}])
    assert hung == set()
    (release,) = [f for name, f in reports if name == "line-release"]
    # who ended it went in the outage: the outage's word, as for a call left talking
    assert release["ended_by"] == "unknown (AMI disconnected)"
    assert release["release_unproven"] is True
    assert release["ami_outage_s"] > 0


def test_control_with_the_number_click_to_dial_is_still_released() -> None:
    """The same pictures, the roles the other way (click-to-dial: the agent's phone asked
    and Dial()ed the customer, whose leg went in the second outage): with the digest, the
    AppDial leg is shown dialled to the number, and the agent's phone is released."""
    hung, reports = _run(after="Playback", found=True, reached="+18015550123@itsp")
    assert hung == {CUSTOMER}  # here the agent's phone
    assert not [f for name, f in reports if name == "violation-risk"]
