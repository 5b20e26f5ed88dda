"""A Dial() of the calling leg in a second outage does not make it the called party (hrev74).

The call of ``test_review68_unproven_dial``: after the first picture the customer's
DIALEDPEERNUMBER went unread twice, so the calling leg's ANSWER (its peer gone) was left
unproven, no called party named, the customer waiting in a queue. AMI goes away again; the
calling leg Dial()s a supervisor, who answers. The second picture lists the supervisor's leg
``AppDial``: ``_rebuilt_dest`` names it, ``_check_dialled_number`` reads it dialled to
another number and asks the calling leg — whose DIALEDPEERNUMBER now names the supervisor
(app_dial.c ``dial_exec_full`` cleared it as that Dial() began and set it to the peer that
answered), so ``_not_the_number`` took the calling leg for an Originate straight to the
customer: the called party. Its hangup hung up every other channel — the customer, alive
in the queue, among them.

Once the call was answered with its called party unknown (``release_unproven``), a leg's
Dial() names no called party (as ``_dial_begin`` already holds): the line stays up and a
violation risk, written at the first picture, says why.

Synthetic pictures from ``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real
Asterisk 22.10.1); pure tracker, synthetic clock.
"""

from __future__ import annotations

from tests.test_review68_unproven_dial import (
    ASKING,
    CUSTOMER,
    CUSTOMER_NUMBER,
    LINKEDID,
    SUPERVISOR,
    SUPERVISOR_ID,
    VALUES,
    _answer,
    _hung_up,
    _picture,
    _settle,
    _tracker,
)


def test_the_calling_legs_dial_in_a_second_outage_does_not_name_it_the_called_party():
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {CUSTOMER_NUMBER}, 80.0)
    more, now = _answer(tracker, tracker.due(now + 1.0), VALUES, {CUSTOMER_NUMBER}, now + 1.0)
    effects += more + _settle(tracker, now, 5)
    assert tracker.calls[LINKEDID].release_unproven
    assert tracker.calls[LINKEDID].dest is None
    tracker.disconnected(now + 10.0)
    follow = next(i for i in _picture() if i["Channel"] == CUSTOMER)["ChanVariable"]
    picture = [{**i, "Application": "Dial", "BridgeId": "b-sup"} if i["Channel"] == ASKING
               else i for i in _picture()]
    picture.append({"Event": "CoreShowChannel", "Channel": SUPERVISOR,
                    "Uniqueid": SUPERVISOR_ID, "Linkedid": LINKEDID, "ChannelState": "6",
                    "Application": "AppDial", "BridgeId": "b-sup", "ChanVariable": follow})
    values = {**VALUES, (ASKING, "DIALEDPEERNUMBER"): "supervisor",
              (ASKING, "DIALEDPEERNAME"): SUPERVISOR, (ASKING, "DIALSTATUS"): "ANSWER",
              (SUPERVISOR, "DIALEDPEERNUMBER"): "supervisor"}
    more, now = _answer(tracker, tracker.reconcile(picture, now + 40.0), values,
                        {CUSTOMER_NUMBER}, now + 40.0)
    effects += more + _settle(tracker, now, 5)
    assert tracker.calls[LINKEDID].dest != ASKING
    # The calling leg hangs up, leaving the supervisor's leg (its wrap-up) and the customer.
    asking_id = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == ASKING)
    effects += tracker.feed({"Event": "Hangup", "Channel": ASKING, "Uniqueid": asking_id,
                             "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                            now + 20.1)
    effects += _settle(tracker, now + 20.1)
    assert CUSTOMER not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
