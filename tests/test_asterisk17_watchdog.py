"""After a node restart, a second AMI outage's called party gone unseen is still asked about.

``_Call.asked_dial_status`` was one flag for two questions: the restart path's (a call
followed again with nothing dialled in sight: DIALSTATUS of its dialling legs,
``_resume``) and the outage path's (the called party's channel gone while AMI was away,
its answer unseen: DIALEDPEERNAME + DIALSTATUS of the leg whose Dial() rang it,
``_ask_gone_dest``; app_dial.c ``dial_exec_full`` sets both once a leg answers). A node
restarted before the Dial() had asked the first; when AMI later went away again and the
called party answered and hung up meanwhile, the second was never asked: the calling legs
(Dial(...,g)) were never released and nothing recorded the release unproven. Now each
question has its own flag, and the outage question is asked once per outage.

REPLAYS lab call-01 (real Asterisk 22 AMI traffic, ../shared/fixtures) through the pure
tracker with a synthetic clock; the pictures are SYNTHESISED from it (``picture_at``).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
)
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


def _index(events: list[dict[str, str]], kind: str, channel: str | None = None) -> int:
    return next(i for i, e in enumerate(events) if e.get("Event") == kind
                and (channel is None or e.get("Channel") == channel))


def _answer(tracker: CallTracker, linkedid: str, asked: list, now: float,
            status: str) -> list:
    effects = []
    for read in asked:
        assert isinstance(read, ReadVariable)
        value = {"DIALEDPEERNAME": CALLED_01, "DIALSTATUS": status}.get(read.variable, "")
        effects.extend(tracker.variable_read(linkedid, read.channel, read.variable, value,
                                             now))
    return effects


class TestRestartThenASecondOutage:
    def start(self):
        events = [parse(e) for e in lab_events(CALL_01)]
        linkedid = events[0]["Linkedid"]
        reports: list[tuple[str, dict]] = []
        tracker = CallTracker(TrackerSettings(), report=written(reports))
        # The node restarts after the gate's ALLOW (its MSet put CALLGUARD_FOLLOW on the
        # leg that ran AGI()), before that leg's Dial(): the picture shows it in NoOp.
        dial_app = _index(events, "Newexten", CALLER_01[0])
        dial_app = next(i for i in range(dial_app, len(events))
                        if events[i].get("Application") == "Dial")
        picture = picture_at(events, dial_app)
        for item in picture:
            if item["Channel"] == CALLER_01[0]:
                item["Application"] = "NoOp"
                item["ChanVariable"] = f"{FOLLOW}={carried()}"
        tracker.disconnected(0.0)
        asked = tracker.reconcile(picture, 5.0)
        assert (CALLER_01[0], "DIALSTATUS") in [(r.channel, r.variable) for r in asked]
        assert _answer(tracker, linkedid, asked, 5.1, "") == []  # no Dial() yet
        # Live again: Dial() rings the called party; AMI goes away while it rings.
        ringing = _index(events, "DialBegin", CALLER_01[0]) + 1
        at = 5.2
        for event in events[dial_app:ringing]:
            at += 0.1
            tracker.feed(event, at)
        assert tracker.calls[linkedid].dest == CALLED_01
        tracker.disconnected(at)
        # 30 s later the called party answered and hung up; the calling legs live on (g).
        gone = _index(events, "Hangup", CALLED_01) + 1
        back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
        for item in back:
            item["Application"] = "Wait"
        asked = tracker.reconcile(back, at + 30.0)
        return tracker, reports, linkedid, at, asked

    def test_the_second_outage_asks_about_the_called_party(self):
        _, _, _, _, asked = self.start()
        assert [(r.channel, r.variable) for r in asked] == [
            (CALLER_01[0], "DIALEDPEERNAME"), (CALLER_01[0], "DIALSTATUS")]

    def test_an_answer_read_releases_the_calling_legs_bounded_by_the_outage(self):
        tracker, reports, linkedid, began, asked = self.start()
        now = began + 30.0
        transfer_reads = _answer(tracker, linkedid, asked, now + 0.1, "ANSWER")
        hangups = _answer(tracker, linkedid, transfer_reads, now + 0.2, "")
        assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
        for uniqueid, channel in list(tracker.calls[linkedid].channels.items()):
            tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                          "Uniqueid": uniqueid, "Cause": "16"}, now + 0.3)
        [release] = [f for name, f in reports if name == "line-release"]
        assert release["ended_by"] == "called-party"
        assert release["release_ms_is_upper_bound"] is True
        assert release["release_ms"] == pytest.approx(30_300, abs=1)
        assert release["within_limit"] is False


def test_a_dial_made_and_ended_in_a_second_outage_is_asked_about_again():
    """The restart path's own question, per outage: restarted before the Dial(), then AMI
    away for the whole Dial() (rung, answered, hung up by the called party), the calling
    legs left up (g). Nothing dialled is in sight again: its DIALSTATUS is asked again —
    the first answer ("", no Dial() yet) said nothing of this one."""
    events = [parse(e) for e in lab_events(CALL_01)]
    linkedid = events[0]["Linkedid"]
    tracker = CallTracker(TrackerSettings(), report=written([]))
    dial_app = next(i for i, e in enumerate(events) if e.get("Channel") == CALLER_01[0]
                    and e.get("Application") == "Dial")
    picture = picture_at(events, dial_app)
    for item in picture:
        if item["Channel"] == CALLER_01[0]:
            item["Application"] = "NoOp"
            item["ChanVariable"] = f"{FOLLOW}={carried()}"
    tracker.disconnected(0.0)
    asked = tracker.reconcile(picture, 5.0)
    assert _answer(tracker, linkedid, asked, 5.1, "") == []
    tracker.disconnected(5.2)  # AMI away again before the Dial() began
    gone = _index(events, "Hangup", CALLED_01) + 1
    back = [item for item in picture_at(events, gone) if item["Channel"] in CALLER_01]
    for item in back:
        item["Application"] = "Wait"
    asked = tracker.reconcile(back, 35.2)
    assert (CALLER_01[0], "DIALSTATUS") in [(r.channel, r.variable) for r in asked]
