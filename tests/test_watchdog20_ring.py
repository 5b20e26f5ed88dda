"""A dialer's AMI Hangup on a ringing leg is the calling side cutting the ring (hwd20).

A dialer may give its AMI Hangup a cause (21, 19, 17): manager.c
``ast_manager_hangup_helper`` sets it on the channel, and app_dial.c's DialEnd then reads
like the called side's refusal (channel.c ``ast_hangup_cause_to_dial_status``: 21 and
19 NOANSWER, 17 BUSY), its Hangup carrying the cause. The record said ``called-side``, and
a ring the dialer cut after a few seconds went without its 64.1200(a)(6) violation risk.
What tells them apart is a SoftHangupRequest on the ringing leg itself: the AMI action
makes one (``ast_channel_softhangup_withcause_locked``: lab call-07, on the channel named);
the called side's refusal comes as the driver's queued hangup (HangupRequest, lab call-04:
the SoftHangupRequest there is on the far ;2 half, whose dialplan ran Hangup(21)).

REPLAYS lab call-04 and call-02 (real Asterisk 22.10.1) through the pure tracker; the
dialer's Hangup is SYNTHESISED: a SoftHangupRequest (as lab call-07 shows one) on the
dialled leg just before its DialEnd.
"""

from __future__ import annotations

import re

import pytest

from callguard.watchdog.calls import USED_EVENTS
from tests.conftest import ROOT
from tests.test_asterisk19_ring import BUSY, REJECTED, release_of, risks_of, run, timed


def _cut_by_dialer(scenario: str, cause: str) -> list[tuple[float, dict[str, str]]]:
    events = timed(scenario)
    end = next(i for i, (_, e) in enumerate(events) if e["Event"] == "DialEnd"
               and e["DialStatus"] != "ANSWER")
    at, dial_end = events[end]
    leg = dial_end["DestChannel"]
    uniqueid = dial_end["DestUniqueid"]
    soft = {"Event": "SoftHangupRequest", "Privilege": "call,all", "Channel": leg,
            "Uniqueid": uniqueid, "Linkedid": dial_end["DestLinkedid"], "Cause": "16"}
    out = [*events[:end], (at - 0.0001, soft), *events[end:]]
    # the far ;2 half's own SoftHangupRequest (its dialplan's Hangup()) is no more
    far = leg[:-1] + "2"
    out = [(t, e) for t, e in out if not (e["Event"] == "SoftHangupRequest"
                                          and e.get("Channel") == far)]
    return [(t, {**e, "Cause": cause} if e["Event"] == "Hangup"
             and e.get("Channel") == leg else e) for t, e in out]


@pytest.mark.parametrize(("scenario", "cause"), [(REJECTED, "21"), (REJECTED, "19"),
                                                 (BUSY, "17")])
def test_a_dialers_hangup_of_the_ringing_leg_is_the_caller(scenario, cause):
    _, reports = run(_cut_by_dialer(scenario, cause), gate_first=False)
    record = release_of(reports)
    assert record["ended_by"] == "not-answered"
    assert record["ring_ended_by"] == "caller"
    assert record["short_ring"] is True
    [risk] = risks_of(reports)
    assert risk["obligation"] == "min-ring"
    assert "dialling side" in risk["reason"]


@pytest.mark.parametrize("scenario", [REJECTED, BUSY])
def test_control_the_called_sides_refusal_stays_called_side(scenario):
    """The lab's own streams, the SoftHangupRequest on the far ;2 half passed too."""
    _, reports = run(timed(scenario), gate_first=False)
    assert release_of(reports)["ring_ended_by"] == "called-side"
    assert risks_of(reports) == []


def test_the_shipped_filter_passes_the_soft_hangup_request():
    text = (ROOT / "asterisk-dialplan" / "manager-callguard.conf").read_text()
    assert "SoftHangupRequest" in USED_EVENTS
    assert re.search(r"^eventfilter\(action\(include\),name\(SoftHangupRequest\)\) =$",
                     text, re.M)
