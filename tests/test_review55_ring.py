"""Review of the unanswered ring record (hast19 67cbfc7, 9de11b2): Dial() with several legs.

``Dial(PJSIP/a&PJSIP/b,5)`` rings every leg under one timer (app_dial.c ``wait_for_answer``
returns when ``*to`` runs out and publishes DialEnd NOANSWER for every leg still ringing,
then ``hanguptree`` hangs them up with no cause). A leg refused early (its own hangup:
DialEnd NOANSWER from ``ast_hangup_cause_to_dial_status``, its Hangup cause 21) ends only
that leg; the call rings on on the others. The record judged only the first DialBegin's
leg (``_Call.dest``) and dropped the others' rings at their Hangup: a call whose other leg
the 5-second timer cut was recorded ``called-side``, no short ring, no violation risk.

REPLAYS lab call-03 (real Asterisk 22.10.1, ``Dial(Local/203@callee,5)``) through the pure
tracker on the capture's own clock, with a second leg SYNTHESISED in front of it (dialled
first, refused at 1 s with cause 21, as lab call-04's leg is).
"""

from __future__ import annotations

import pytest

from tests.test_asterisk19_ring import NO_ANSWER_DIAL, release_of, risks_of, run, timed

OTHER = "PJSIP/itsp-0000000a"
OTHER_ID = "1795326260.30"


def _two_legs(*, other_ends: float, other_cause: str = "21", other_status: str = "NOANSWER",
              first: bool = True) -> list[tuple[float, dict[str, str]]]:
    """call-03 with a second leg dialled by the same Dial() (``first``: before the callee's
    leg, so it is the one the tracker took for the called party), ended at ``other_ends``."""
    events = timed(NO_ANSWER_DIAL)
    begin_at, begin = next((at, e) for at, e in events if e["Event"] == "DialBegin"
                           and e.get("Channel"))
    linkedid = begin["Linkedid"]
    made = {"Event": "Newchannel", "Channel": OTHER, "Uniqueid": OTHER_ID,
            "Linkedid": linkedid, "ChannelState": "0", "ChannelStateDesc": "Down"}
    dest = {"DestChannel": OTHER, "DestUniqueid": OTHER_ID, "DestLinkedid": linkedid}
    shift = -0.0002 if first else 0.00005
    other = [(begin_at + shift, made),
             (begin_at + shift + 0.00001, {**begin, **dest, "DialString": "itsp/b"}),
             (other_ends, {**begin, **dest, "Event": "DialEnd", "DialStatus": other_status}),
             (other_ends + 0.0001, {**made, "Event": "Hangup", "Cause": other_cause})]
    return sorted(events + other, key=lambda pair: pair[0])


def test_a_leg_refused_first_leaves_the_timer_cut_of_the_other_a_short_ring():
    """The leg dialled first refuses at 1 s (cause 21); the other rings until the 5-second
    Dial() timer: the called party's phone stopped ringing at 5 s, cut by the timer."""
    _, reports = run(_two_legs(other_ends=1.0), gate_first=False)
    record = release_of(reports)
    assert record["ring_ended_by"] == "timer"
    assert record["short_ring"] is True
    assert record["ring_ms_max"] == pytest.approx(5006.7, abs=0.2)  # the leg the timer cut
    assert [r["obligation"] for r in risks_of(reports)] == ["min-ring"]


def test_the_order_the_legs_were_dialled_in_does_not_matter():
    """The callee's leg dialled first, the other refused at 1 s: the same short ring."""
    _, reports = run(_two_legs(other_ends=1.0, first=False), gate_first=False)
    record = release_of(reports)
    assert (record["ring_ended_by"], record["short_ring"]) == ("timer", True)
    assert record["ring_ms_max"] == pytest.approx(5006.7, abs=0.2)


def test_every_leg_refused_is_the_called_side():
    """Both legs end on their own (21 at 1 s, 17 BUSY at 2 s): no ring was cut."""
    events = []
    for at, event in timed(NO_ANSWER_DIAL):
        if at >= 5.0:  # the timer never fires: the callee's leg is busy at 2 s
            at = at - 3.0  # noqa: PLW2901
            if event["Event"] == "DialEnd":
                event = {**event, "DialStatus": "BUSY"}  # noqa: PLW2901
            if event["Event"] == "Hangup" and "203@callee" in event["Channel"]:
                event = {**event, "Cause": "17"}  # noqa: PLW2901
        events.append((at, event))
    others = _two_legs(other_ends=1.0)
    added = [(at, e) for at, e in others if OTHER in (e.get("Channel"), e.get("DestChannel"))]
    _, reports = run(sorted(events + added, key=lambda pair: pair[0]), gate_first=False)
    record = release_of(reports)
    assert record["ring_ended_by"] == "called-side"
    assert record["short_ring"] is False
    assert risks_of(reports) == []


def test_a_later_dial_of_the_same_channel_is_not_rung_with_the_called_party():
    """The dialling channel's next Dial(), to someone else once the called party's ended:
    its leg never rang with the called party's, its timer cut is not the called party's."""
    events = timed(NO_ANSWER_DIAL)
    events = [(at + 15.0 if at >= 5.0 else at, e) for at, e in events]  # a 20 s ring
    others = _two_legs(other_ends=20.01266, other_cause="0")
    added = []
    for at, event in others:  # dialled after the called party's DialEnd (20.0126), cut at once
        if OTHER in (event.get("Channel"), event.get("DestChannel")):
            added.append((20.01263 + at / 1000 if at < 1.0 else at, event))
    _, reports = run(sorted(events + added, key=lambda pair: pair[0]), gate_first=False)
    record = release_of(reports)
    assert (record["ring_ended_by"], record["short_ring"]) == ("timer", False)
    assert record["ring_ms_max"] == pytest.approx(20006.7, abs=0.2)
    assert risks_of(reports) == []


def test_a_refusal_whose_hangup_was_missed_is_not_taken_for_the_timer():
    """Lab call-04 (Hangup(21) on the callee): DialEnd NOANSWER, then AMI goes away before
    the leg's Hangup (cause 21). NOANSWER is what the timer says too (app_dial.c
    ``wait_for_answer``); only the leg's Hangup cause told them apart, and it was not seen:
    who ended the ring is not known — not a 'timer' cut and a violation risk."""
    from callguard.watchdog.calls import Followed, TrackerSettings
    from tests.test_asterisk19_ring import REJECTED, _linkedid
    from tests.test_watchdog import UTAH, GateTimed, written

    events = timed(REJECTED)
    cut = next(i for i, (_, e) in enumerate(events)
               if e["Event"] == "DialEnd" and e.get("DialStatus") == "NOANSWER")
    reports: list[tuple[str, dict]] = []
    tracker = GateTimed(TrackerSettings(), report=written(reports))
    linkedid = _linkedid(events)
    tracker.follow_when_asked(
        Followed(f"d-{linkedid}", linkedid, "c", "predictive", 25.0, UTAH, "+1"),
        [e for _, e in events])
    for at, event in events[:cut + 1]:
        tracker.feed(event, at)
    tracker.disconnected(0.02)
    tracker.reconcile([], 1.0)  # everything gone meanwhile
    assert tracker.calls == {}
    record = release_of(reports)
    assert record["ring_ended_by"].startswith("unknown")
    assert record["short_ring"] is None
    assert [r for r in risks_of(reports) if r.get("obligation")] == []


FORWARDED = "PJSIP/itsp-0000000b"
FORWARDED_ID = "1795326260.31"


def _forwarded(*, forward_at: float, timer_at: float) -> list[tuple[float, dict[str, str]]]:
    """call-03 whose called leg the far end redirects at ``forward_at`` (a SIP 302): app_dial.c
    ``do_forward`` dials the target — DialBegin of the new leg — then publishes the first
    leg's DialEnd CANCEL with ``Forward`` and hangs it up; the Dial() timer then cuts the
    new leg at ``timer_at`` (DialEnd NOANSWER, Hangup cause 0)."""
    events = timed(NO_ANSWER_DIAL)
    begin = next(e for _, e in events if e["Event"] == "DialBegin" and e.get("Channel"))
    first = begin["DestChannel"]
    out: list[tuple[float, dict[str, str]]] = []
    for at, event in events:
        if at < 5.0:
            out.append((at, event))
        elif event.get("Channel", "").startswith("Local/203@callee"):
            out.append((forward_at + 0.0001, event))  # the first leg's pair goes at the forward
        elif event["Event"] != "DialEnd":
            out.append((at - 5.0 + timer_at, event))
    made = {"Event": "Newchannel", "Channel": FORWARDED, "Uniqueid": FORWARDED_ID,
            "Linkedid": begin["Linkedid"]}
    dest = {"DestChannel": FORWARDED, "DestUniqueid": FORWARDED_ID,
            "DestLinkedid": begin["Linkedid"]}
    out += [(forward_at - 0.0002, made),
            (forward_at - 0.0001, {**begin, **dest, "DialString": "itsp/voicemail"}),
            (forward_at, {**begin, "Event": "DialEnd", "DialStatus": "CANCEL",
                          "Forward": "PJSIP/itsp/voicemail"}),
            (timer_at, {**begin, **dest, "Event": "DialEnd", "DialStatus": "NOANSWER"}),
            (timer_at + 0.0001, {**made, "Event": "Hangup", "Cause": "0"})]
    assert first != FORWARDED
    return sorted(out, key=lambda pair: pair[0])


def test_a_forwarded_leg_is_no_cut_by_the_caller():
    """Redirected at 2 s, the new leg rang until the 20-second timer: the called party's
    number rang 20 s; the first leg's CANCEL (with Forward) is the forward, not the
    dialling side hanging up — no min-ring violation risk."""
    _, reports = run(_forwarded(forward_at=2.0, timer_at=20.0126), gate_first=False)
    record = release_of(reports)
    assert record["ring_ended_by"] == "timer"
    assert record["short_ring"] is False
    assert record["ring_ms_max"] == pytest.approx(20006.7, abs=0.2)  # from the first DialBegin
    assert risks_of(reports) == []


def test_a_forwarded_leg_the_timer_cut_short_is_still_short():
    _, reports = run(_forwarded(forward_at=2.0, timer_at=5.0126), gate_first=False)
    record = release_of(reports)
    assert (record["ring_ended_by"], record["short_ring"]) == ("timer", True)
    assert record["ring_ms_max"] == pytest.approx(5006.7, abs=0.2)
    assert [r["obligation"] for r in risks_of(reports)] == ["min-ring"]
