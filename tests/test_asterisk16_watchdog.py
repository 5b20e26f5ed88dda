"""An answered call that ended unseen, in an AMI outage longer than its release limit.

The tracker knew the call was answered (lab call-01: both legs bridged), then AMI went
away and, when it came back, ``CoreShowChannels`` listed none of the call's channels
(``CallTracker.reconcile``): the called party may have hung up first as the outage began
and the calling legs gone only as it ended. The record said ``ended_by: unknown (AMI
disconnected)`` with no release time — and no ``release_unproven``, no violation-risk,
unlike a call forgotten for want of events (``_forgotten``) or one whose leftovers were
found up (``_release_after_outage``): a compliance officer reading for unproven releases
did not see it. Now, past the limit (Utah Code 13-25a-103(5)(e): 25 s), the release is
recorded unproven and a violation-risk is written; within it, the release took no longer
than the outage, so nothing changes.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import HangupChannel, ReadVariable
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    lab_events,
    parse,
    picture_at,
    replay,
    with_g_option,
)


def answered_then_gone(outage: float) -> list[tuple[str, dict]]:
    """Replay call-01 until both legs are bridged, lose AMI, come back ``outage`` s later
    with none of its channels up; the records written."""
    events = [parse(e) for e in lab_events(CALL_01)]
    bridged = [i for i, e in enumerate(events) if e.get("Event") == "BridgeEnter"][-1] + 1
    tracker, reports, _ = replay(events[:bridged], [events[0]["Linkedid"]])
    at = bridged * 0.1
    tracker.disconnected(at)
    assert tracker.reconcile([], at + outage) == []  # nothing left to hang up
    return reports


def test_an_outage_past_the_limit_leaves_the_release_unproven():
    reports = answered_then_gone(30.0)
    [release] = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "unknown (AMI disconnected)"
    assert release["release_ms"] is None
    assert release["release_unproven"] is True
    [risk] = [f for name, f in reports if name == "violation-risk"]
    assert risk["ami_outage_s"] == pytest.approx(30.0)
    assert "not proven" in risk["reason"]
    assert risk["decision_id"] == release["decision_id"]


def test_an_outage_within_the_limit_proves_nothing_is_late():
    reports = answered_then_gone(2.0)
    [release] = [f for name, f in reports if name == "line-release"]
    assert "release_unproven" not in release
    assert [name for name, _ in reports] == ["line-release"]


class TestAnsweredWhileAmiWasAway:
    """Lab call-01 with Dial(...,g) (the calling legs live on after the called party
    hangs up): AMI goes away once the called party is being dialled (its DialBegin seen),
    and comes back 30 s later with the called party's channel gone and the calling legs
    up (a picture SYNTHESISED from the recording: ``picture_at``, Dial() returned). Its
    answer was never seen, so the tracker did nothing at all: no release, no question —
    the calling legs held on for as long as the dialplan kept them, and the record said
    the end was unknown. Now the leg whose Dial() rang the called party is asked
    DIALEDPEERNAME and DIALSTATUS (app_dial.c ``dial_exec_full`` sets both once a leg
    answers): ANSWER naming that channel is the called party's answer, so its end is a
    hangup after an answer and the calling legs are released (after the transfer check),
    the release an upper bound from the outage's start."""

    def start(self):
        before, _ = with_g_option(lab_events(CALL_01), CALLED_01)
        events = [parse(e) for e in before]
        dialling = [i for i, e in enumerate(events) if e.get("Event") == "DialBegin"][-1] + 1
        linkedid = events[0]["Linkedid"]
        tracker, reports, _ = replay(events[:dialling], [linkedid])
        at = dialling * 0.1
        tracker.disconnected(at)
        picture = picture_at(events, len(events))
        assert sorted(i["Channel"] for i in picture) == CALLER_01
        for item in picture:
            item["Application"] = "Wait"  # Dial() returned (the g option)
        asked = tracker.reconcile(picture, at + 30.0)
        return tracker, reports, linkedid, at + 30.0, asked

    @staticmethod
    def answer(tracker, linkedid, asked, now, status):
        effects = []
        for read in asked:
            assert isinstance(read, ReadVariable)
            value = CALLED_01 if read.variable == "DIALEDPEERNAME" else status
            if read.variable in ("ATTENDEDTRANSFER", "BLINDTRANSFER"):
                value = ""
            effects.extend(tracker.variable_read(linkedid, read.channel, read.variable,
                                                 value, now))
        return effects

    def test_an_answer_unseen_is_asked_and_the_calling_legs_released(self):
        tracker, reports, linkedid, now, asked = self.start()
        assert [(r.channel, r.variable) for r in asked] == [
            (CALLER_01[0], "DIALEDPEERNAME"), (CALLER_01[0], "DIALSTATUS")]
        transfer_reads = self.answer(tracker, linkedid, asked, now + 0.1, "ANSWER")
        hangups = self.answer(tracker, linkedid, transfer_reads, now + 0.2, "")
        assert sorted(h.channel for h in hangups if isinstance(h, HangupChannel)) == CALLER_01
        for channel in CALLER_01:  # Asterisk confirms
            tracker.feed({"Event": "Hangup", "Channel": channel, "Linkedid": linkedid,
                          "Uniqueid": next(u for u, n in tracker.calls[linkedid]
                                           .channels.items() if n == channel),
                          "Cause": "16"}, now + 0.3)
        [release] = [f for name, f in reports if name == "line-release"]
        assert release["ended_by"] == "called-party"
        assert release["release_ms_is_upper_bound"] is True
        assert release["release_ms"] == pytest.approx(30_300, abs=1)
        assert release["within_limit"] is False

    def test_a_dial_never_answered_is_left_alone(self):
        tracker, _, linkedid, now, asked = self.start()
        assert self.answer(tracker, linkedid, asked, now + 0.1, "NOANSWER") == []

    def test_an_answer_naming_another_channel_proves_nothing(self):
        """A DIALSTATUS left by an earlier Dial() of the same leg: its DIALEDPEERNAME names
        another channel."""
        tracker, _, linkedid, now, asked = self.start()
        effects = []
        for read in asked:
            value = "PJSIP/agent-00000009" if read.variable == "DIALEDPEERNAME" else "ANSWER"
            effects.extend(tracker.variable_read(linkedid, read.channel, read.variable,
                                                 value, now + 0.1))
        assert effects == []
