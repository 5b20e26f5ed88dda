"""A dialling leg's DIALSTATUS=ANSWER read after a restart does not say its called party
hung up when its DIALEDPEERNAME names a channel of the call still up.

app_dial.c ``dial_exec_full`` sets DIALSTATUS (``pa.status``) as its Dial() returns and
DIALEDPEERNAME once a leg answers. Dial() also returns with the called party alive: the
answered leg redirected out of the bridge (AMI Redirect to a queue, a park), handed on
while AMI was away, or a dialling channel reused for a second Dial() showing its first one's
ANSWER. Followed again with nothing dialled in sight (``_resume``), the watchdog read
ANSWER, took it for the called party's end, and hung up every channel of the call — the
live called party's among them (it was not known as the called party: no AppDial leg in
the picture). Now the channel DIALEDPEERNAME names, still up, is the called party.

REPLAYS lab call-01 (real Asterisk 22.10.1) through the pure tracker; the picture is
SYNTHESISED from it (``picture_at``) at the moment both talk, then re-shaped: the called
party's channel redirected to ``Queue`` (no bridge, no AppDial), the calling leg back in
its dialplan (``Wait``, Dial() returned).
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    carried,
    lab_events,
    parse,
    picture_at,
    written,
)

FOLLOW = "CALLGUARD_FOLLOW"


def _answers(tracker: CallTracker, linkedid: str, asked: list, now: float,
             peer: str) -> list:
    effects = []
    for read in asked:
        assert isinstance(read, ReadVariable)
        value = {"DIALEDPEERNAME": peer, "DIALSTATUS": "ANSWER"}.get(read.variable, "")
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, value,
                                             now))
    return effects


def _run(peer: str) -> tuple[CallTracker, str, list, list]:
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    talking = next(i for i, e in enumerate(events) if e.get("Event") == "BridgeEnter"
                   and e.get("Channel") == CALLED_01) + 1
    picture = picture_at(events, talking)
    for item in picture:
        item["BridgeId"] = ""  # the Dial() bridge is gone
        if item["Channel"] == CALLED_01:
            item["Application"] = "Queue"
        elif item["Channel"] in CALLER_01:
            item["Application"] = "Wait"
            if item["Channel"] == CALLER_01[0]:
                item["ChanVariable"] = f"{FOLLOW}={carried()}"
    assert CALLED_01 in [item["Channel"] for item in picture]
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(0.0)
    asked = tracker.reconcile(picture, 2.0)
    assert "DIALSTATUS" in [r.variable for r in asked if isinstance(r, ReadVariable)]
    effects = _answers(tracker, linkedid, asked, 2.1, peer)
    effects += _answers(tracker, linkedid, [e for e in effects
                                            if isinstance(e, ReadVariable)], 2.2, peer)
    return tracker, linkedid, effects, reports


def test_the_answered_peer_still_up_is_not_hung_up():
    tracker, linkedid, effects, reports = _run(CALLED_01)
    assert [e.channel for e in effects if isinstance(e, HangupChannel)] == []
    call = tracker.calls[linkedid]
    assert call.dest == CALLED_01
    assert call.called_hangup_at is None
    assert [name for name, _ in reports] == []
    # its own hangup, seen live, releases the rest
    uniqueid = next(u for u, n in call.channels.items() if n == CALLED_01)
    released = tracker.feed({"Event": "Hangup", "Channel": CALLED_01, "Linkedid": linkedid,
                             "Uniqueid": uniqueid, "Cause": "16"}, 5.0)
    released += tracker.due(5.0)
    assert CALLER_01[0] in [e.channel for e in released if isinstance(e, HangupChannel)]


def test_a_peer_gone_is_still_the_called_partys_end():
    """DIALEDPEERNAME naming a channel no longer up: as before, the rest is released."""
    _, _, effects, _ = _run("Local/201@callee-000000ff;1")
    assert CALLER_01[0] in [e.channel for e in effects if isinstance(e, HangupChannel)]
