"""A DIALEDPEERNAME naming a live peer dialled to another number is not the called party
when a live leg names the number (hrev74; left open by hrev68).

The call of ``test_review56_peer_gone``: the calling leg's Dial() reached the customer, now
waiting in a queue. While AMI was away the calling leg Dial()ed a supervisor too, who was
redirected out of that Dial()'s bridge (an AMI Redirect to a wrap-up): the calling leg's
DIALSTATUS says ANSWER and its DIALEDPEERNAME names the supervisor, alive — app_dial.c
``dial_exec_full`` resets both as each Dial() begins and sets them to its answering peer.
``_peer_still_up`` took the supervisor for the called party, and the supervisor's hangup
hung up the customer, alive in the queue; and the calling leg's own DIALEDPEERNUMBER, now
the supervisor's, made ``_dial_status_read`` take the calling leg itself for an Originate
straight to the customer (``_called_in_dialplan``): its hangup hung the customer up. The
customer's own DIALEDPEERNUMBER (read first, ``_resume``) names the number: app_dial.c set
it on the leg it requested for the number. A live leg other than the asking one naming the
number is the called party, and the asking leg is not.

Synthetic picture from ``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real
Asterisk 22.10.1); pure tracker, synthetic clock.
"""

from __future__ import annotations

from tests.test_review68_unproven_dial import (
    ASKING,
    CUSTOMER,
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


def test_a_supervisor_redirected_out_of_the_calling_legs_dial_is_not_the_called_party():
    tracker, _ = _tracker()
    follow = next(i for i in _picture() if i["Channel"] == CUSTOMER)["ChanVariable"]
    picture = [*_picture(), {"Event": "CoreShowChannel", "Channel": SUPERVISOR,
                             "Uniqueid": SUPERVISOR_ID, "Linkedid": LINKEDID,
                             "ChannelState": "6", "Application": "Wait", "BridgeId": "",
                             "ChanVariable": follow}]
    values = {**VALUES, (ASKING, "DIALEDPEERNUMBER"): "supervisor",
              (ASKING, "DIALEDPEERNAME"): SUPERVISOR,
              (SUPERVISOR, "DIALEDPEERNUMBER"): "supervisor"}
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), values, set(), 80.0)
    effects += _settle(tracker, now, 5)
    assert tracker.calls[LINKEDID].dest not in (SUPERVISOR, ASKING)
    asking_id = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == ASKING)
    effects += tracker.feed({"Event": "Hangup", "Channel": ASKING, "Uniqueid": asking_id,
                             "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                            now + 10.0)
    effects += tracker.feed({"Event": "Hangup", "Channel": SUPERVISOR,
                             "Uniqueid": SUPERVISOR_ID, "Linkedid": LINKEDID,
                             "ChannelState": "6", "Cause": "16"}, now + 20.0)
    effects += _settle(tracker, now + 20.0)
    assert CUSTOMER not in _hung_up(effects)
