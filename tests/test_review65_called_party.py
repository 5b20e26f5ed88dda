"""Review 65: after a restart, two live legs naming the number, and a second outage's
unanswered DIALSTATUS.

Synthetic shapes on the pure tracker, synthetic clock, on the picture of
``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real Asterisk 22.10.1): the
asking leg's ``Dial(Local/<number>@outbound)`` answered, the Local pair optimised away,
the called party's ``PJSIP/itsp-…`` leg redirected to a queue while AMI was away, the
asking leg back in its dialplan (``Wait``); DIALEDPEERNAME names the Local ``;1``, gone.
"""

from __future__ import annotations

from callguard.watchdog.calls import ReadVariable
from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_review60_called_party import _hung_up, _settle, _tracker
from tests.test_watchdog import CALLER_01, NUMBER

# A second live leg of the call whose own DIALEDPEERNUMBER names the number too: app_dial.c
# ``dial_exec_full`` gives each leg it requests DIALEDPEERNUMBER = its resource, and on an
# answer copies the peer's onto the channel that ran Dial() — an agent phone's leg whose
# own Dial() to the customer was answered, or a second leg requested to the same number.
SECOND = "PJSIP/agent-00000009"


def _with_second_leg() -> list[dict[str, str]]:
    return [*_picture(), {"Event": "CoreShowChannel", "Channel": SECOND,
                          "Uniqueid": "1795326250.9", "Linkedid": LINKEDID,
                          "ChannelState": "6", "Application": "Wait", "BridgeId": ""}]


def test_two_live_legs_naming_the_number_are_not_hung_up():
    """hrev60 (b3bafe4) asks every live leg its DIALEDPEERNUMBER. Two name the number:
    ``_called_leg_up`` (now ``_called_legs_up``) said "unknown" — and unknown went on to
    the release, so the called party, alive in the queue, was hung up with the rest
    (``_still_talking`` does not save it: nobody shares its bridge). One of them may be
    the called party, alive: nothing is hung up; a violation risk says the release is
    not proven."""
    tracker, reports = _tracker()
    values = {**VALUES, (SECOND, "DIALEDPEERNUMBER"): f"{NUMBER}@itsp"}
    todo = tracker.reconcile(_with_second_leg(), 80.0)
    assert (SECOND, "DIALEDPEERNUMBER") in [(r.channel, r.variable) for r in todo
                                            if isinstance(r, ReadVariable)]
    effects, _ = _settle(tracker, todo, values, 80.0)
    assert CUSTOMER not in _hung_up(effects)
    assert SECOND not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    [risk] = [fields for name, fields in reports if name == "violation-risk"]
    assert "DIALEDPEERNUMBER" in risk["reason"]


def test_control_one_live_leg_naming_the_number_is_the_called_party():
    """The second leg dialled elsewhere: the customer alone names the number (400c2bd)."""
    tracker, _ = _tracker()
    values = {**VALUES, (SECOND, "DIALEDPEERNUMBER"): "201@agents"}
    effects, _ = _settle(tracker, tracker.reconcile(_with_second_leg(), 80.0), values, 80.0)
    assert _hung_up(effects) == set()
    assert tracker.calls[LINKEDID].dest == CUSTOMER


def _answer(tracker, todo: list, values: dict, unanswered: set, now: float) -> tuple[list, float]:
    """Answer the reads in order; those in ``unanswered`` once with None (a timeout)."""
    effects = list(todo)
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            key = (read.channel, read.variable)
            value = None if key in unanswered else values.get(key, "")
            unanswered.discard(key)
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable, value, now)
        effects += todo
    return effects, now


def test_a_later_pictures_unanswered_dial_status_is_asked_again_too():
    """82cdd3c asks an unanswered DIALSTATUS once more, ``retry_s`` later — "a picture asks
    anew" — but the leg stayed marked asked-again for the call's life: after a second
    outage, its picture's DIALSTATUS timing out was never asked again, and the called
    party's end in that outage released nothing and said nothing."""
    tracker, _ = _tracker()
    picture = [i for i in _picture() if i["Channel"] != CUSTOMER]
    dialler = (CALLER_01[0], "DIALSTATUS")
    # First picture: unanswered once, asked again, then the Dial() had not been answered.
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0),
                           {**VALUES, dialler: ""}, {dialler}, 80.0)
    effects, now = _answer(tracker, tracker.due(now + 1.0), {**VALUES, dialler: "NOANSWER"},
                           set(), now + 1.0)
    assert not _hung_up(effects)
    # A second outage; the leg's next Dial() was answered and its peer went in it.
    tracker.disconnected(now + 5.0)
    effects, now = _answer(tracker, tracker.reconcile(picture, now + 20.0), VALUES,
                           {dialler}, now + 20.0)
    assert not _hung_up(effects)
    again, _ = _answer(tracker, tracker.due(now + 1.0), VALUES, set(), now + 1.0)
    again += tracker.due(now + 2.0)
    assert CALLER_01[0] in _hung_up(again)


def test_a_dial_status_unanswered_twice_is_not_recorded_not_answered():
    """The retry's DIALSTATUS unanswered too (Asterisk still busy): whether that Dial() was
    answered, and the called party gone in the outage, was never known — nothing was
    released, and the line-release said ``not-answered``, no word of an unproven release.
    It says the release is not proven now."""
    tracker, reports = _tracker()
    picture = [i for i in _picture() if i["Channel"] != CUSTOMER]
    dialler = (CALLER_01[0], "DIALSTATUS")
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), VALUES, {dialler},
                           80.0)
    more, now = _answer(tracker, tracker.due(now + 1.0), VALUES, {dialler}, now + 1.0)
    assert not _hung_up(effects + more)
    for uniqueid, name in sorted(tracker.calls[LINKEDID].channels.items()):
        now += 1.0
        tracker.feed({"Event": "Hangup", "Channel": name, "Linkedid": LINKEDID,
                      "Uniqueid": uniqueid, "ChannelState": "6", "Cause": "16"}, now)
    [record] = [fields for name, fields in reports if name == "line-release"]
    assert record["ended_by"] != "not-answered"
    assert record.get("release_unproven") is True


def test_the_asking_legs_own_number_unread_does_not_hang_it_up():
    """An Originate straight to the customer: the customer's leg asked the gate and Dial()ed
    an agent, who hung up while AMI was away; the customer's leg lives on in its dialplan.
    Read, its DIALEDPEERNUMBER (the agent's) makes it the called party (``_not_the_number``
    / ``_called_in_dialplan``). Unanswered (a Getvar timeout), nothing said so: its ANSWER
    with the peer gone released the rest — the customer's own leg, alive, hung up. Which
    side it is cannot be told: nothing is hung up, the release is said to be unproven.
    (The lab's asking leg, its dialplan running, stands for the customer's.)"""
    tracker, reports = _tracker()
    picture = [i for i in _picture() if i["Channel"] != CUSTOMER]
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), VALUES,
                           {(CALLER_01[0], "DIALEDPEERNUMBER")}, 80.0)
    effects += tracker.due(now + 1.0) + tracker.due(now + 3.0)
    assert CALLER_01[0] not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    [risk] = [fields for name, fields in reports if name == "violation-risk"]
    assert "DIALEDPEERNUMBER" in risk["reason"]
