"""Examiner hwd21: after a restart, the customer running a Dial() of its own is not released
for its agent's hangup when whom the AppDial leg was dialled to cannot be checked.

An agent blind-transfers the customer to another phone: bridge.c
``ast_bridge_transfer_blind`` -> ``bridge_channel_internal_queue_blind_transfer`` sends the
customer's own channel to the transfer's extension, where it Dial()s agent 9 (a parked
call's timeout sends it to res_parking's comeback extension the same way). callguard
restarts while they talk: the CoreShowChannels picture lists the customer ``Application:
Dial`` and agent 9's leg "AppDial" (app_dial.c ``dial_exec_full`` requested it), both
carrying ``__CALLGUARD_FOLLOW`` (the customer inherited it from the dialer's ``;2``, agent
9's leg from the customer: ``ast_channel_inherit_variables``). ``_rebuild_call`` takes the
AppDial leg for the called party; with the number's digest it reads whom that leg was
dialled to (DIALEDPEERNUMBER) and gives it up. Without one (a node logging to stdout only:
``number_lookup_s`` 0, or the decision's record not found — another node's decision), agent
9's hangup hung up the customer, going on in its dialplan after that Dial() (a survey).

The picture cannot tell this from click-to-dial (the agent's phone, originated, asks the
gate and Dial()s the customer: the same two items), where the agent's phone is the one to
release. When the watchdog cannot tell it must not hang up: a violation risk says the
release is not proven, and the line-release says whom it could not tell.

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
    plain_digest,
)
from tests.test_watchdog import NUMBER, carried, written

CALL = "1795400100.0"  # the dialer's Local ;1, gone (optimised away, then the transfer)
CUSTOMER, CUSTOMER_ID = "PJSIP/itsp-0000002a", "1795400100.4"
AGENT9, AGENT9_ID = "PJSIP/agent9-00000031", "1795400100.9"
VALUE = carried(decision="d-hwd21-xfer")


def _item(name: str, uniqueid: str, app: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": uniqueid,
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": "b-9",
            "Duration": "00:01:10", "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}


def _ch(name: str, uniqueid: str) -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uniqueid, "Linkedid": CALL, "ChannelState": "6"}


def _run(*, lookup_s: float, found: bool, reached: str,
         tail: list[dict[str, str]]) -> tuple[set[str], list[tuple[str, dict]]]:
    """Restart with the customer Dial()ing agent 9; every read answered (``reached``: agent
    9's leg's DIALEDPEERNUMBER; the customer's Dial() answered by it); then ``tail`` 0.1 s
    apart and 3 s of ``due``."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=lookup_s), report=written(reports))
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
    for event in tail:
        now += 0.1
        settle(tracker.feed(event, now))
    for _ in range(30):
        now += 0.1
        settle(tracker.due(now))
    return hung, reports


def _leaves_and_hangs_up(name: str, uniqueid: str) -> list[dict[str, str]]:
    return [{"Event": "BridgeLeave", "BridgeUniqueid": "b-9", "BridgeType": "basic",
             **_ch(name, uniqueid)},
            {"Event": "Hangup", "Cause": "16", **_ch(name, uniqueid)}]


# agent 9 hangs up; the customer's Dial() returns and its dialplan goes on (a survey)
_AGENT9_HANGS_UP = [*_leaves_and_hangs_up(AGENT9, AGENT9_ID),
                    {"Event": "BridgeLeave", "BridgeUniqueid": "b-9", "BridgeType": "basic",
                     **_ch(CUSTOMER, CUSTOMER_ID)}]


@pytest.mark.parametrize("lookup_s", [0.0, 1.0])
def test_without_the_number_the_customer_is_not_hung_up(lookup_s: float) -> None:
    hung, reports = _run(lookup_s=lookup_s, found=False, reached="agent9",
                         tail=_AGENT9_HANGS_UP)
    assert hung == set()
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "could not be checked" in risks[0]["reason"]
    assert "8015550123" not in str(reports)  # no number in clear in a record


def test_its_line_release_says_the_called_party_is_not_proven() -> None:
    hung, reports = _run(lookup_s=0.0, found=False, reached="agent9",
                         tail=[*_AGENT9_HANGS_UP, {"Event": "Hangup", "Cause": "16",
                                                   **_ch(CUSTOMER, CUSTOMER_ID)}])
    assert hung == set()
    (release,) = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "unknown (called party not proven)"
    assert release["release_unproven"] is True


def test_with_the_number_the_agents_leg_is_not_the_called_party() -> None:
    """Control: the digest found, agent 9's DIALEDPEERNUMBER names another number."""
    hung, reports = _run(lookup_s=1.0, found=True, reached="agent9", tail=_AGENT9_HANGS_UP)
    assert hung == set()
    assert not [f for name, f in reports if name == "violation-risk"]


def test_with_the_number_click_to_dial_is_still_released() -> None:
    """Control: the same picture where the AppDial leg WAS dialled to the number allowed
    (click-to-dial: the agent's phone asked and Dial()ed the customer): the customer's
    hangup releases the agent's phone, as before."""
    customer_leg, phone = AGENT9, CUSTOMER  # the same two items, the roles the other way
    hung, _ = _run(lookup_s=1.0, found=True, reached="+18015550123@itsp",
                   tail=_leaves_and_hangs_up(customer_leg, AGENT9_ID))
    assert hung == {phone}
