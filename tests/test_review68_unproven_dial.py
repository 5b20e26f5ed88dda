"""A Dial() begun after a release was left unproven does not name the called party (hrev68).

``_peer_unknown`` leaves a call answered (``_answered_unseen``) with no called party named:
a live leg whose DIALEDPEERNUMBER went unread may be it, and hwd20 (281aa65) asks that leg
again ``retry_s`` later — but only while ``dest`` is still None. ``_dial_begin`` took the
first leg any channel of the call dialled for the called party (``len(call.dialled) == 1``):
the customer of ``test_review56_peer_gone``, waiting in a queue, has app_queue.c
``ring_entry`` ring an agent, which publishes a DialBegin with the customer as its caller
(``ast_channel_publish_dial``). The agent's leg became the called party, the retry was
never asked, and the agent's ring ending (no answer: app_queue hangs the member's leg up)
was taken for the called party's hangup: every other channel of the call — the customer,
alive in the queue — was hung up.

Once the call was answered with its called party not known (``release_unproven``), a
Dial() a leg of it begins is another call's ring (an agent, a transfer target), not the
called party's: it is dialled, not named.

Synthetic events on the picture of ``test_review56_peer_gone`` (SYNTHESISED from lab
call-01, real Asterisk 22.10.1); pure tracker, synthetic clock.
"""

from __future__ import annotations

from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_review60_called_party import _hung_up, _tracker
from tests.test_review65_called_party import _answer
from tests.test_watchdog import CALLER_01

ASKING = CALLER_01[0]
CUSTOMER_ID = "1795326250.4"
AGENT = "PJSIP/agent-00000009"
AGENT_ID = "1795326250.9"
CUSTOMER_NUMBER = (CUSTOMER, "DIALEDPEERNUMBER")


def _queue_rings_the_agent(tracker, now: float) -> list:
    """app_queue.c ``ring_entry``: the member's leg, DialBegin from the queue's caller."""
    effects = tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                            "Linkedid": LINKEDID, "ChannelState": "0"}, now)
    return effects + tracker.feed({
        "Event": "DialBegin", "Channel": CUSTOMER, "Uniqueid": CUSTOMER_ID,
        "Linkedid": LINKEDID, "DestChannel": AGENT, "DestUniqueid": AGENT_ID,
        "DestLinkedid": LINKEDID, "DialString": "PJSIP/agent"}, now)


def _agent_does_not_answer(tracker, now: float) -> list:
    """The member's ring times out: DialEnd NOANSWER, its leg hung up still ringing."""
    effects = tracker.feed({
        "Event": "DialEnd", "Channel": CUSTOMER, "Uniqueid": CUSTOMER_ID,
        "Linkedid": LINKEDID, "DestChannel": AGENT, "DestUniqueid": AGENT_ID,
        "DestLinkedid": LINKEDID, "DialStatus": "NOANSWER"}, now)
    return effects + tracker.feed({"Event": "Hangup", "Channel": AGENT, "Uniqueid": AGENT_ID,
                                   "Linkedid": LINKEDID, "ChannelState": "5",
                                   "Cause": "0"}, now)


def _settle(tracker, now: float, seconds: int = 60) -> list:
    return [e for t in range(1, seconds) for e in tracker.due(now + t)]


def test_a_queue_ringing_an_agent_leaves_the_retry_to_name_the_customer():
    """Unread at the picture; the queue rings an agent before the retry; the retry reads
    the customer's leg naming the number: it is the called party. The agent's ring ending
    hangs nobody up; the customer's own hangup releases the rest."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {CUSTOMER_NUMBER}, 80.0)
    assert not _hung_up(effects)
    effects += _queue_rings_the_agent(tracker, now + 0.2)
    again, now = _answer(tracker, tracker.due(now + 1.0), VALUES, set(), now + 1.0)
    assert (CUSTOMER, "DIALEDPEERNUMBER") in [(r.channel, r.variable) for r in again
                                              if hasattr(r, "variable")]
    assert tracker.calls[LINKEDID].dest == CUSTOMER
    again += _agent_does_not_answer(tracker, now + 14.0) + _settle(tracker, now + 14.0)
    assert not _hung_up(effects + again)
    gone = tracker.feed({"Event": "Hangup", "Channel": CUSTOMER, "Uniqueid": CUSTOMER_ID,
                         "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                        now + 90.0)
    gone += _settle(tracker, now + 90.0)
    assert ASKING in _hung_up(gone)


def test_the_agents_ring_ending_does_not_hang_up_the_customer_left_unproven():
    """Unread at the picture and at the retry: the release stays unproven, and the agent the
    queue rang without an answer is no called party whose end releases the call."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {CUSTOMER_NUMBER}, 80.0)
    effects += _queue_rings_the_agent(tracker, now + 0.2)
    more, now = _answer(tracker, tracker.due(now + 1.0), VALUES, {CUSTOMER_NUMBER}, now + 1.0)
    more += _agent_does_not_answer(tracker, now + 14.0) + _settle(tracker, now + 14.0)
    assert CUSTOMER not in _hung_up(effects + more)
    assert tracker.calls[LINKEDID].dest != AGENT
    assert tracker.calls[LINKEDID].release_unproven


def test_the_customers_own_dial_between_the_reads_does_not_release_it():
    """The customer's leg is redirected into a Dial() of an agent between the read that
    timed out and its retry: app_dial.c ``dial_exec_full`` cleared its DIALEDPEERNUMBER as
    that Dial() began, and the retry's "" (or, answered, the agent's number) said it was not
    the called party — the customer was hung up as it rang the agent. A leg seen running a
    Dial() of its own may be the called party: unproven, nothing hung up, then or when the
    agent's ring ends."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {CUSTOMER_NUMBER}, 80.0)
    effects += _queue_rings_the_agent(tracker, now + 0.2)  # a Dial()'s events are the same
    again, now = _answer(tracker, tracker.due(now + 1.0), {**VALUES, CUSTOMER_NUMBER: ""},
                         set(), now + 1.0)
    again += _settle(tracker, now)
    again += _agent_does_not_answer(tracker, now + 70.0) + _settle(tracker, now + 70.0)
    assert CUSTOMER not in _hung_up(effects + again)
    assert tracker.calls[LINKEDID].release_unproven


SUPERVISOR, SUPERVISOR_ID = "PJSIP/supervisor-0000000a", "1795326250.10"


def test_a_dial_of_the_dialling_leg_before_the_retry_is_not_read_as_the_first():
    """The dialling leg, its first Dial() returned (``g``), Dial()s a supervisor before the
    retry: the retry read that Dial()'s ANSWER and DIALEDPEERNAME — the supervisor, alive —
    and took it for the called party (``_peer_still_up``); its hangup hung up the customer,
    alive in the queue. The retry is not asked once the leg dials again."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {CUSTOMER_NUMBER}, 80.0)
    asking_id = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == ASKING)
    effects += tracker.feed({"Event": "Newchannel", "Channel": SUPERVISOR,
                             "Uniqueid": SUPERVISOR_ID, "Linkedid": LINKEDID,
                             "ChannelState": "0"}, now + 0.1)
    dial = {"Channel": ASKING, "Uniqueid": asking_id, "Linkedid": LINKEDID,
            "DestChannel": SUPERVISOR, "DestUniqueid": SUPERVISOR_ID, "DestLinkedid": LINKEDID}
    effects += tracker.feed({"Event": "DialBegin", **dial, "DialString": "PJSIP/supervisor"},
                            now + 0.1)
    effects += tracker.feed({"Event": "DialEnd", **dial, "DialStatus": "ANSWER"}, now + 0.3)
    values = {**VALUES, (ASKING, "DIALEDPEERNAME"): SUPERVISOR,
              (ASKING, "DIALEDPEERNUMBER"): "supervisor"}
    again, now = _answer(tracker, tracker.due(now + 1.0), values, set(), now + 1.0)
    assert tracker.calls[LINKEDID].dest != SUPERVISOR
    again += tracker.feed({"Event": "Hangup", "Channel": SUPERVISOR, "Uniqueid": SUPERVISOR_ID,
                           "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                          now + 30.0)
    again += _settle(tracker, now + 30.0)
    assert CUSTOMER not in _hung_up(effects + again)


def test_a_dial_of_the_dialling_leg_before_an_unanswered_status_is_asked_again():
    """The same with the dialling leg's DIALSTATUS unanswered at the picture (82cdd3c asks
    it again ``retry_s`` later): the retry read the supervisor's Dial(), not the one the
    picture asked about."""
    tracker, _ = _tracker()
    status = (ASKING, "DIALSTATUS")
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES, {status},
                           80.0)
    assert not tracker.calls[LINKEDID].release_unproven
    asking_id = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == ASKING)
    effects += tracker.feed({"Event": "Newchannel", "Channel": SUPERVISOR,
                             "Uniqueid": SUPERVISOR_ID, "Linkedid": LINKEDID,
                             "ChannelState": "0"}, now + 0.1)
    dial = {"Channel": ASKING, "Uniqueid": asking_id, "Linkedid": LINKEDID,
            "DestChannel": SUPERVISOR, "DestUniqueid": SUPERVISOR_ID, "DestLinkedid": LINKEDID}
    effects += tracker.feed({"Event": "DialBegin", **dial, "DialString": "PJSIP/supervisor"},
                            now + 0.1)
    effects += tracker.feed({"Event": "DialEnd", **dial, "DialStatus": "ANSWER"}, now + 0.3)
    values = {**VALUES, (ASKING, "DIALEDPEERNAME"): SUPERVISOR,
              (ASKING, "DIALEDPEERNUMBER"): "supervisor"}
    again, now = _answer(tracker, tracker.due(now + 1.0), values, set(), now + 1.0)
    again += tracker.feed({"Event": "Hangup", "Channel": SUPERVISOR, "Uniqueid": SUPERVISOR_ID,
                           "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"},
                          now + 30.0)
    again += _settle(tracker, now + 30.0)
    assert CUSTOMER not in _hung_up(effects + again)
