"""Review of hrev48's rule for a requested leg in a call first seen in a picture
(``_inherited``): an originated leg whose DialBegin shows it requested by a channel of the
call (DestUniqueid is not DestLinkedid: ARI ``channels/create`` with an ``originator``,
then ``channels/{id}/dial``, res_stasis control.c ``app_control_dial`` publishing the
DialBegin with no caller block) is the called party only when its DialString names the
number allowed.

The number's digest of a call followed again from its variable alone is sought in the
decision's record (``FindNumber``; a node waits ``number_lookup_s`` = 1 s for it). hrev48
decided at the DialBegin: one arriving while that answer was on its way found no digest
and took the leg for an inherited one, for good. In agent first (the agent's channel asked
the gate before the restart, the dialer requested the customer's leg with it as
originator just after) the customer's leg dialled to the very number allowed was never
the called party: its hangup released nothing (47 U.S.C. 227(d)(3)(B); Utah Code
13-25a-103(5)(e)). The DialBegin, and what of that leg came meanwhile, now waits for the
answer (``_number_known`` -> ``_requested_known``).

SYNTHESISED (the shape of tests/test_review48_watchdog.py's control, seen after a
restart): the pure tracker on a synthetic clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    TrackerSettings,
    plain_digest,
)
from tests.test_watchdog import carried, written

FOLLOW = "CALLGUARD_FOLLOW"
NUMBER = "+18015550123"
LINKEDID = "1795326400.50"
ASKER = {"Channel": "PJSIP/agent-00000050", "Uniqueid": LINKEDID, "Linkedid": LINKEDID}
CUSTOMER = {"Channel": "PJSIP/itsp-00000051", "Uniqueid": "1795326400.51",
            "Linkedid": LINKEDID}
BRIDGE = {"BridgeUniqueid": "5e0a0000-0000-4000-8000-0000000c0e52"}


def _after_a_restart(dial_string: str):
    """The agent's channel asked the gate (another node's), in the dialer's application,
    when callguard restarted: the picture lists it alone, Up, carrying the value. Then
    the dialer requests a leg with it as originator (its Linkedid, its value inherited)."""
    value = carried()
    carries = {"ChanVariable": f"{FOLLOW}={value}"}
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0), report=written([]))
    tracker.disconnected(0.0)
    effects = list(tracker.reconcile(
        [{**ASKER, "Application": "Stasis", "ChannelState": "6", "BridgeId": "",
          **carries}], 10.0))
    [find] = [e for e in effects if isinstance(e, FindNumber)]
    dest = {f"Dest{k}": v for k, v in CUSTOMER.items()}
    live = [{"Event": "Newchannel", **CUSTOMER, "ChannelState": "0", **carries},
            {"Event": "DialBegin", **dest, "DestChanVariable": carries["ChanVariable"],
             "DialString": dial_string},
            {"Event": "DialEnd", **dest, "DestChannelState": "6",
             "DestChanVariable": carries["ChanVariable"], "DialStatus": "ANSWER"},
            {"Event": "BridgeEnter", **BRIDGE, **ASKER, **carries},
            {"Event": "BridgeEnter", **BRIDGE, **CUSTOMER, **carries},
            {"Event": "BridgeLeave", **BRIDGE, **CUSTOMER, **carries},
            {"Event": "Hangup", **CUSTOMER, "Cause": "16", **carries}]
    return tracker, find, live


def _run(tracker: CallTracker, live: list[dict[str, str]], answer_after: int,
         answer) -> list[HangupChannel]:
    """Feed ``live`` 0.1 s apart from t = 10.1; the record's answer (``answer``: a
    callable of the tracker and now) right after event ``answer_after``."""
    effects: list = []
    now = 10.0
    for i, event in enumerate(live):
        now += 0.1
        effects.extend(tracker.feed(event, now))
        if i == answer_after:
            effects.extend(answer(tracker, now + 0.05))
        effects.extend(tracker.due(now))
    effects.extend(tracker.due(now + 30.0))
    return [e for e in effects if isinstance(e, HangupChannel)]


@pytest.mark.parametrize("dial_string", [f"{NUMBER}@itsp", "itsp/sip:+18015550123@host",
                                         "918015550123@itsp", "8015550123@itsp"])
@pytest.mark.parametrize("answer_after", [1, 2, 6])
def test_the_customers_leg_dialled_while_its_number_is_sought_is_the_called_party(
        dial_string: str, answer_after: int):
    """The record's answer comes after the customer's DialBegin (1), after its answer
    (2), or after its hangup (6; all within the 1 s wait): its hangup releases the
    agent's channel still up — within the grace of the hangup, not of the answer."""
    tracker, find, live = _after_a_restart(dial_string)

    def answer(tracker: CallTracker, now: float):
        return tracker.number_found(LINKEDID, find.decision_id, plain_digest(NUMBER), now)

    hangups = _run(tracker, live, answer_after, answer)
    assert {h.channel for h in hangups} == {ASKER["Channel"]}


@pytest.mark.parametrize("answer_after", [1, 6, None])
def test_a_leg_dialled_to_another_number_stays_inherited(answer_after: int | None):
    """hrev48's case is kept: the leg requested for the customer (an agent, dialled to
    ``agent``) is not the called party whether the record answers during its dialling,
    after its hangup, or never (the wait runs out): its hangup hangs nothing up."""
    tracker, find, live = _after_a_restart("agent")

    def answer(tracker: CallTracker, now: float):
        return tracker.number_found(LINKEDID, find.decision_id, plain_digest(NUMBER), now)

    hangups = _run(tracker, live, -1 if answer_after is None else answer_after, answer)
    assert hangups == []
    assert tracker.calls[LINKEDID].dest is None


def test_the_wait_running_out_keeps_the_picture_word():
    """No answer from the record within the wait: as before this review, a requested leg
    proves nothing (hrev48) — nothing is released, nothing held for ever."""
    tracker, _, live = _after_a_restart(f"{NUMBER}@itsp")
    hangups = _run(tracker, live, -1, lambda tracker, now: [])
    call = tracker.calls.get(LINKEDID)
    assert hangups == []
    assert call is None or not getattr(call, "held_requested", [])
