"""An Originate straight to the customer, followed again in a queue, has no agent for its
called party (hrev74).

A dialer Originates straight to the customer (``Application: Queue``, or a context whose
dialplan runs Queue()): the gate was asked from the customer's leg before it was called
(app_originate ``b()`` / dial.h ``AST_DIAL_OPTION_PREDIAL``), and once answered the leg runs
the PBX itself (pbx.c ``pbx_outgoing_exec``). callguard restarted while it waits in the queue:
the picture lists that one leg, Up, ``Application: Queue`` — no AppDial leg, no Dial() of its
own (its DIALSTATUS, DIALEDPEERNAME, DIALEDPEERNUMBER all empty: dial.c sets none of them).
Then app_queue.c ``ring_entry`` rings an agent: ``ast_channel_publish_dial(qe->chan,
tmp->chan, ...)`` is a DialBegin with the customer as its caller. ``_dial_begin`` took the
first leg dialled for the called party (``len(call.dialled) == 1``): the agent became the
called party, its answer the call's answer, and the agent's hangup "released" the rest —
the customer, alive in the dialplan after Queue() returned (a survey), was hung up.

Synthetic events, shapes as lab ``originate-app-*`` (real Asterisk 22.10.1: an originated
leg's DialBegin has only the Dest block; its Uniqueid is the Linkedid); pure tracker,
synthetic clock.
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
from tests.test_watchdog import NUMBER, carried, written

LINKEDID = "1795400000.0"
CUSTOMER = "PJSIP/itsp-00000005"
AGENT, AGENT_ID = "PJSIP/agent-00000006", "1795400000.1"
FOLLOW = f"CALLGUARD_FOLLOW={carried(decision='d-74')}"


def _hung_up(effects: list) -> set[str]:
    return {e.channel for e in effects if isinstance(e, HangupChannel)}


def _answer(tracker: CallTracker, todo: list, values: dict, now: float) -> tuple[list, float]:
    """Answer every read (and the number's lookup) in order, as Asterisk/the record would."""
    effects = list(todo)
    while todo:
        done, todo = todo, []
        for effect in done:
            now += 0.01
            if isinstance(effect, ReadVariable):
                todo += tracker.variable_read(effect.linkedid, effect.channel, effect.variable,
                                              values.get((effect.channel, effect.variable),
                                                         ""), now)
            elif isinstance(effect, FindNumber):
                todo += tracker.number_found(effect.linkedid, effect.decision_id,
                                             plain_digest(NUMBER), now)
        effects += todo
    return effects, now


def _restarted_in_queue(app: str = "Queue") -> tuple[CallTracker, list, float]:
    reports: list = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    picture = [{"Event": "CoreShowChannel", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                "Linkedid": LINKEDID, "ChannelState": "6", "Application": app,
                "BridgeId": "", "Duration": "00:00:40", "ChanVariable": FOLLOW}]
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), {}, 80.0)
    return tracker, effects, now


def _agent(tracker: CallTracker, now: float, answer: str = "ANSWER") -> list:
    dial = {"Channel": CUSTOMER, "Uniqueid": LINKEDID, "Linkedid": LINKEDID,
            "DestChannel": AGENT, "DestUniqueid": AGENT_ID, "DestLinkedid": LINKEDID}
    effects = tracker.feed({"Event": "Newchannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                            "Linkedid": LINKEDID, "ChannelState": "0"}, now)
    effects += tracker.feed({"Event": "DialBegin", **dial, "DialString": "PJSIP/agent"}, now)
    effects += tracker.feed({"Event": "DialEnd", **dial, "DialStatus": answer}, now + 3.0)
    if answer != "ANSWER":
        return effects
    for uniqueid, name in ((LINKEDID, CUSTOMER), (AGENT_ID, AGENT)):
        effects += tracker.feed({"Event": "BridgeEnter", "Channel": name, "Uniqueid": uniqueid,
                                 "Linkedid": LINKEDID, "BridgeUniqueid": "b-74",
                                 "BridgeType": "basic"}, now + 3.1)
    return effects


def _agent_hangs_up(tracker: CallTracker, now: float) -> list:
    effects = tracker.feed({"Event": "BridgeLeave", "Channel": AGENT, "Uniqueid": AGENT_ID,
                            "Linkedid": LINKEDID, "BridgeUniqueid": "b-74",
                            "BridgeType": "basic"}, now)
    effects += tracker.feed({"Event": "Hangup", "Channel": AGENT, "Uniqueid": AGENT_ID,
                             "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"}, now)
    # The customer's Queue() returns; it goes on in its dialplan (a survey), alive.
    effects += tracker.feed({"Event": "BridgeLeave", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                             "Linkedid": LINKEDID, "BridgeUniqueid": "b-74",
                             "BridgeType": "basic"}, now + 0.01)
    return effects + [e for t in range(1, 60) for e in tracker.due(now + t)]


def test_the_agents_hangup_does_not_hang_up_the_customer_originated_into_a_queue():
    tracker, effects, now = _restarted_in_queue()
    effects += _agent(tracker, now + 5.0)
    assert tracker.calls[LINKEDID].dest != AGENT
    effects += _agent_hangs_up(tracker, now + 60.0)
    assert CUSTOMER not in _hung_up(effects)


def test_with_the_number_found_the_agent_is_no_called_party_either():
    """The decision's record gives the number's digest (a node with a compliance log): the
    agent's dial string does not name it, so the agent is still no called party."""
    reports: list = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=2.0), report=written(reports))
    tracker.disconnected(50.0)
    picture = [{"Event": "CoreShowChannel", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                "Linkedid": LINKEDID, "ChannelState": "6", "Application": "Queue",
                "BridgeId": "", "Duration": "00:00:40", "ChanVariable": FOLLOW}]
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), {}, 80.0)
    assert tracker.calls[LINKEDID].followed.number_hash == plain_digest(NUMBER)
    effects += _agent(tracker, now + 5.0)
    assert tracker.calls[LINKEDID].dest != AGENT
    effects += _agent_hangs_up(tracker, now + 60.0)
    assert CUSTOMER not in _hung_up(effects)


def test_the_agents_answer_seen_without_its_dialbegin_names_no_called_party():
    """The agent's leg rang while AMI was away (the picture lists it ``AppQueue``, app_queue.c
    ``ring_entry``; not ``AppDial``), its DialBegin missed: its DialEnd ANSWER from the
    customer's leg was taken for the called party's, "followed again mid-dial"."""
    reports: list = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    picture = [{"Event": "CoreShowChannel", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                "Linkedid": LINKEDID, "ChannelState": "6", "Application": "Queue",
                "BridgeId": "", "Duration": "00:00:40", "ChanVariable": FOLLOW},
               {"Event": "CoreShowChannel", "Channel": AGENT, "Uniqueid": AGENT_ID,
                "Linkedid": LINKEDID, "ChannelState": "5", "Application": "AppQueue",
                "BridgeId": "", "Duration": "00:00:05", "ChanVariable": FOLLOW}]
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), {}, 80.0)
    dial = {"Channel": CUSTOMER, "Uniqueid": LINKEDID, "Linkedid": LINKEDID,
            "DestChannel": AGENT, "DestUniqueid": AGENT_ID, "DestLinkedid": LINKEDID}
    effects += tracker.feed({"Event": "DialEnd", **dial, "DialStatus": "ANSWER"}, now + 2.0)
    for uniqueid, name in ((LINKEDID, CUSTOMER), (AGENT_ID, AGENT)):
        effects += tracker.feed({"Event": "BridgeEnter", "Channel": name, "Uniqueid": uniqueid,
                                 "Linkedid": LINKEDID, "BridgeUniqueid": "b-74",
                                 "BridgeType": "basic"}, now + 2.1)
    assert tracker.calls[LINKEDID].dest != AGENT
    effects += _agent_hangs_up(tracker, now + 60.0)
    assert CUSTOMER not in _hung_up(effects)


CLICKER, CLICKER_ID = "PJSIP/agentphone-00000007", "1795400100.0"
CALLED, CALLED_ID = "PJSIP/itsp-00000008", "1795400100.1"


def test_control_click_to_dial_pictured_asking_still_names_the_customer():
    """Click-to-dial pictured while the agent's phone asked the gate (``AGI``): the Dial()
    it makes next reaches the customer, whose hangup releases the phone, as before."""
    reports: list = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    picture = [{"Event": "CoreShowChannel", "Channel": CLICKER, "Uniqueid": CLICKER_ID,
                "Linkedid": CLICKER_ID, "ChannelState": "6", "Application": "AGI",
                "BridgeId": "", "Duration": "00:00:03", "ChanVariable": FOLLOW}]
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), {}, 80.0)
    dial = {"Channel": CLICKER, "Uniqueid": CLICKER_ID, "Linkedid": CLICKER_ID,
            "DestChannel": CALLED, "DestUniqueid": CALLED_ID, "DestLinkedid": CLICKER_ID}
    effects += tracker.feed({"Event": "Newchannel", "Channel": CALLED, "Uniqueid": CALLED_ID,
                             "Linkedid": CLICKER_ID, "ChannelState": "0"}, now + 1.0)
    effects += tracker.feed({"Event": "DialBegin", **dial,
                             "DialString": f"itsp/{NUMBER}"}, now + 1.0)
    effects += tracker.feed({"Event": "DialEnd", **dial, "DialStatus": "ANSWER"}, now + 5.0)
    assert tracker.calls[CLICKER_ID].dest == CALLED
    effects += tracker.feed({"Event": "Hangup", "Channel": CALLED, "Uniqueid": CALLED_ID,
                             "Linkedid": CLICKER_ID, "ChannelState": "6", "Cause": "16"},
                            now + 30.0)
    effects += [e for t in range(1, 5) for e in tracker.due(now + 30.0 + t)]
    assert CLICKER in _hung_up(effects)
