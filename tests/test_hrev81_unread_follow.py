"""Reviewer hrev81: after a restart, the picture's first AppDial leg whose CALLGUARD_FOLLOW
read came back unreadable is not the called party by being listed first.

The dialer's Local pair (``Local/s@dialer/n``): ``;2`` asked the gate and Dial()ed the
customer (its AppDial leg inherits ``__CALLGUARD_FOLLOW``: app_dial.c ``dial_exec_full``,
``ast_channel_inherit_variables``); ``;1`` was bridged with an agent who blind-transferred
it (bridge.c ``ast_bridge_transfer_blind``) to agent 9: ``;1`` now Dial()s agent 9, whose
AppDial leg inherits from ``;1`` — which carries nothing (core_local.c ``local_call``
copies ``;1``'s variables to ``;2`` when the pair is called, before ``;2`` asked).
callguard restarts without ``channelvars``: the picture lists two AppDial legs, agent 9's
first (manager.c ``action_coreshowchannels`` keeps no order), and the Getvar of agent 9's
CALLGUARD_FOLLOW is not answered (None: a timeout, an error), so hwd21's
``_carries_nothing`` cannot set it aside. With no number digest, agent 9's hangup hung up
the customer, still talking on through ``;2`` (and ``;1`` going on in its dialplan): the
Dial()-running channel that could be the called party (hwd21's ``_dialler_unknown``) was a
Local half, never a person, so nothing held the release back.

Nothing is hung up; a violation risk says the release is not proven. Controls: the read
answered (empty) sets agent 9 aside and the customer's hangup releases the dialer's pair;
with the number's digest nothing changes.

Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import TrackerSettings, plain_digest
from tests.picture_tracker import PictureRun
from tests.test_watchdog import NUMBER, carried

CALL = "1795400000.10"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
CUSTOMER, AGENT9 = "PJSIP/itsp-0000002a", "PJSIP/agent9-00000031"
IDS = {ONE: CALL, TWO: "1795400000.11", CUSTOMER: "1795400000.12", AGENT9: "1795400000.13"}
VALUE = carried(decision="d-hrev81-unread")
CARRIERS = {TWO, CUSTOMER}
ALLOWED = "+18015550123@itsp"
READS = {(TWO, "DIALEDPEERNUMBER"): ALLOWED, (CUSTOMER, "DIALEDPEERNUMBER"): ALLOWED,
         (ONE, "DIALEDPEERNUMBER"): "agent9", (AGENT9, "DIALEDPEERNUMBER"): "agent9",
         (TWO, "DIALSTATUS"): "ANSWER", (ONE, "DIALSTATUS"): "ANSWER",
         (TWO, "DIALEDPEERNAME"): CUSTOMER, (ONE, "DIALEDPEERNAME"): AGENT9}


def _item(name: str, app: str, bridge: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": bridge,
            "Duration": "00:01:00"}


def _event(kind: str, name: str, bridge: str = "") -> dict[str, str]:
    event = {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
             "ChannelState": "6"}
    if bridge:
        event.update(BridgeUniqueid=bridge, BridgeType="basic")
    else:
        event["Cause"] = "16"
    return event


def _run(tail: list[dict[str, str]], *, unread: bool, digest: bool = False,
         agent9_first: bool = True) -> tuple[set[str], list[tuple[str, dict]]]:
    """Restart, agent 9 listed first (or second); agent 9's CALLGUARD_FOLLOW unreadable (``unread``)
    or unset; then ``tail`` 0.1 s apart and 4 s of ``due``: the channels hung up."""
    def answer(channel: str, variable: str) -> str | None:
        if variable == "CALLGUARD_FOLLOW":
            return (VALUE if channel in CARRIERS
                    else None if unread and channel == AGENT9 else "")
        return READS.get((channel, variable), "")

    run = PictureRun(answer, digest=plain_digest(NUMBER) if digest else None,
                     settings=TrackerSettings(number_lookup_s=1.0 if digest else 0.0))
    legs = [_item(AGENT9, "AppDial", "b-x"), _item(CUSTOMER, "AppDial", "b-d")]
    run.picture([*(legs if agent9_first else legs[::-1]),
                 _item(ONE, "Dial", "b-x"), _item(TWO, "Dial", "b-d")])
    run.feed(tail)
    run.tick(40)
    return run.hung, run.reports


# agent 9 hangs up: ``;1``'s Dial() returns, the customer talks on through ``;2``
_AGENT9_HANGS_UP = [_event("BridgeLeave", AGENT9, "b-x"), _event("Hangup", AGENT9),
                    _event("BridgeLeave", ONE, "b-x")]
_CUSTOMER_HANGS_UP = [_event("BridgeLeave", CUSTOMER, "b-d"), _event("Hangup", CUSTOMER)]


def test_agent9s_hangup_hangs_up_nobody_when_his_follow_read_is_unreadable() -> None:
    hung, reports = _run(_AGENT9_HANGS_UP, unread=True)
    assert CUSTOMER not in hung
    assert hung == set()
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "not proven" in risks[0]["reason"]
    assert "8015550123" not in str(reports)


@pytest.mark.parametrize("digest", [False, True])
def test_control_his_read_answered_empty_the_customers_hangup_releases(digest: bool) -> None:
    hung, reports = _run(_AGENT9_HANGS_UP, unread=False, digest=digest)
    assert hung == set()
    assert not [f for name, f in reports if name == "violation-risk"]
    hung, _ = _run(_AGENT9_HANGS_UP + _CUSTOMER_HANGS_UP, unread=False, digest=digest)
    assert hung == {ONE, TWO}


def test_the_cost_the_customers_hangup_then_releases_nothing_but_says_so() -> None:
    """The price of not guessing: the customer (listed second) hangs up while agent 9's leg,
    unreadable, is still up; which of the two was the called party is not known, so
    nothing is hung up and the release is recorded not proven (not silently held)."""
    hung, reports = _run(_CUSTOMER_HANGS_UP, unread=True, agent9_first=False)
    assert hung == set()
    assert [f for name, f in reports if name == "violation-risk"]


def test_with_the_digest_the_dialers_local_one_is_not_the_called_party() -> None:
    """hwd21's left item, reproduced: after a restart the asking leg is unknown and the
    call's first leg stands in for it (``_asking_leg``) — here the dialer's Local ``;1``.
    Agent 9's leg, taken first, is read dialled to another number (``_not_the_number``),
    and ``;1`` was taken for the called party of an Originate straight to the customer:
    the customer's hangup then released nothing and wrote nothing. A Local half is never
    a person: the picture's next AppDial leg, the customer, is checked and is it."""
    hung, reports = _run(_AGENT9_HANGS_UP + _CUSTOMER_HANGS_UP, unread=True, digest=True)
    assert hung == {ONE, TWO}
    assert not [f for name, f in reports if name == "violation-risk"]
