"""A calling leg whose own Dial() reached the number is not taken for the called party (hrev68).

``_check_dialled_number`` asks whom a picture's AppDial leg was dialled to; read as another
number, ``_not_the_number`` took the asking leg for the called party (an Originate straight
to the customer, whose dialplan Dial()ed an agent). But an AppDial leg is any Dial()'s: the
customer of ``test_review56_peer_gone``, redirected into a Dial() of an agent while AMI was
away, has the agent's leg ringing as the picture's AppDial. The asking leg's own
DIALEDPEERNUMBER, read first, named the number — its Dial() reached the customer, it is the
calling side — and it was still named the called party: its hangup hung up every other
channel, the customer ringing the agent among them.

Synthetic picture from ``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real
Asterisk 22.10.1); pure tracker, synthetic clock.
"""

from __future__ import annotations

from tests.test_review68_unproven_dial import (
    AGENT,
    AGENT_ID,
    ASKING,
    CUSTOMER,
    LINKEDID,
    VALUES,
    _answer,
    _hung_up,
    _picture,
    _settle,
    _tracker,
)


def _customer_dialling_an_agent() -> list[dict[str, str]]:
    items = [{**i, "Application": "Dial"} if i["Channel"] == CUSTOMER else i
             for i in _picture()]
    follow = next(i for i in items if i["Channel"] == CUSTOMER)["ChanVariable"]
    return [*items, {"Event": "CoreShowChannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                     "Linkedid": LINKEDID, "ChannelState": "5", "Application": "AppDial",
                     "BridgeId": "", "ChanVariable": follow}]


def test_the_calling_legs_hangup_does_not_hang_up_the_customer_ringing_an_agent():
    tracker, _ = _tracker()
    values = {**VALUES, (AGENT, "DIALEDPEERNUMBER"): "agent"}
    effects, now = _answer(tracker, tracker.reconcile(_customer_dialling_an_agent(), 80.0),
                           values, set(), 80.0)
    assert tracker.calls[LINKEDID].dest != ASKING
    effects += _settle(tracker, now)
    asking_id = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == ASKING)
    effects += tracker.feed({"Event": "Hangup", "Channel": ASKING, "Uniqueid": asking_id,
                             "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                            now + 5.0)
    effects += _settle(tracker, now + 5.0)
    assert CUSTOMER not in _hung_up(effects)


def test_the_dialers_local_half_is_never_taken_for_the_called_party():
    """Its own DIALEDPEERNUMBER names another number (the agent it Dial()ed). Until
    hrev81 the asking leg was then taken for the called party (an Originate straight to
    the customer, ``_called_in_dialplan``); but the lab's asking leg is the dialer's Local
    ;1, never a person: a Local half is never taken for the called party (hrev81,
    ``_next_pictured``; the Originate-straight case asks from a non-Local leg)."""
    tracker, _ = _tracker()
    values = {**VALUES, (AGENT, "DIALEDPEERNUMBER"): "agent",
              (ASKING, "DIALEDPEERNUMBER"): "agent"}
    _answer(tracker, tracker.reconcile(_customer_dialling_an_agent(), 80.0), values, set(),
            80.0)
    assert tracker.calls[LINKEDID].dest != ASKING


def test_the_customers_own_dial_in_the_outage_does_not_hang_it_up_at_the_picture():
    """While AMI was away the customer, redirected into a Dial() of an agent, talked to the
    agent and is back in its dialplan: its DIALEDPEERNUMBER names the agent (app_dial.c
    ``dial_exec_full`` set it as that Dial() was answered) and no live leg named the number,
    so the calling leg's ANSWER (its peer gone) released the call, the customer with it. Its
    own DIALEDPEERNAME, now read before any DIALSTATUS, says it ran a Dial() of its own: it
    may be the called party, and nothing is hung up (a violation risk says why)."""
    tracker, reports = _tracker()
    picture = [{**i, "Application": "Wait"} if i["Channel"] == CUSTOMER else i
               for i in _picture()]
    values = {**VALUES, (CUSTOMER, "DIALEDPEERNUMBER"): "agent2",
              (CUSTOMER, "DIALSTATUS"): "ANSWER",
              (CUSTOMER, "DIALEDPEERNAME"): "PJSIP/agent2-0000000b"}
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), values, set(), 80.0)
    effects += _settle(tracker, now)
    assert CUSTOMER not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    assert "violation-risk" in [name for name, _ in reports]
