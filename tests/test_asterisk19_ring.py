"""How long an UNANSWERED called party's leg rang, recorded on the call's line-release.

47 CFR 64.1200(a)(6) (and 16 CFR 310.4(b)(4)(ii)): an unanswered telemarketing call is not
disconnected before 15 seconds or four rings. The dialplan rings ``CALLGUARD_MIN_RING``
(20 s), but a dialer's own timer cuts the ring short whatever it says: an AMI Originate's
``Timeout`` (dial.c ``handle_timeout_trip`` hangs the leg up and publishes no DialEnd), or
a Dial() timeout shorter than the minimum. Nothing recorded how long the leg rang: a
4-second ring left a line-release saying only ``not-answered``.

REPLAYS the lab's real Asterisk 22.10.1 AMI traffic (../shared/fixtures,
``originate-app-no-answer``, ``call-03-no-answer``, ``call-04-rejected-cause21``,
``call-02-busy``) through the pure tracker on a synthetic clock taken from the capture's
own timestamps, and once over the fake AMI with manager.conf's filters.
"""

from __future__ import annotations

import json

import pytest

from callguard.watchdog.calls import USED_EVENTS, CallTracker, Followed, TrackerSettings
from tests.fake_ami import LAB, parse
from tests.test_watchdog import UTAH, GateTimed, lab_events, written

NO_ANSWER_ORIGINATE = "originate-app-no-answer"  # Originate Timeout 4000, no DialEnd
NO_ANSWER_DIAL = "call-03-no-answer"  # Dial(...,5): DialEnd NOANSWER at 5.0 s
REJECTED = "call-04-rejected-cause21"  # Hangup(21): DialEnd NOANSWER, the leg's cause 21
BUSY = "call-02-busy"


def timed(scenario: str) -> list[tuple[float, dict[str, str]]]:
    """The scenario's events with the instant Asterisk sent each (seconds since connect)."""
    out = []
    for line in (LAB / f"{scenario}.ami.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["dir"] != "rx":
            continue
        fields = parse(record["data"].rstrip("\r\n"))
        if "Event" in fields and "ActionID" not in fields and fields["Event"] not in (
                "FullyBooted", "SuccessfulAuth"):
            out.append((record["t"], fields))
    return out


def _linkedid(events: list[tuple[float, dict[str, str]]]) -> str:
    return next(e["Linkedid"] for _, e in events if e.get("Event") == "Newchannel")


def run(events: list[tuple[float, dict[str, str]]], *, gate_first: bool,
        mode: str = "predictive", only: frozenset[str] | None = frozenset(USED_EVENTS),
        ) -> tuple[CallTracker, list[tuple[str, dict]]]:
    """Feed the events at their own instants; ``gate_first``: the gate allowed the call
    before any leg was dialled (an Originate straight to the customer, a pre-dial ALLOW);
    else it is asked from the originated calling leg's dialplan. ``only``: manager.conf's
    event filter (the shipped one passes USED_EVENTS)."""
    reports: list[tuple[str, dict]] = []
    tracker = GateTimed(TrackerSettings(), report=written(reports))
    linkedid = _linkedid(events)
    followed = Followed(f"d-{linkedid}", linkedid, "c", mode, 25.0, UTAH, "+1")
    if gate_first:
        tracker.follow(followed)
    else:
        tracker.follow_when_asked(followed, [e for _, e in events])
    for at, event in events:
        if only is None or event["Event"] in only:
            tracker.feed(event, at)
    assert tracker.calls == {}
    return tracker, reports


def release_of(reports: list[tuple[str, dict]]) -> dict:
    [record] = [f for name, f in reports if name == "line-release"]
    return record


def risks_of(reports: list[tuple[str, dict]]) -> list[dict]:
    return [f for name, f in reports if name == "violation-risk"]


class TestTheRingIsRecorded:
    def test_an_originate_timeout_cuts_the_ring_short_and_says_so(self):
        """Originate straight to the customer, ``Timeout: 4000``: DialBegin at 0.0016 s,
        DialState RINGING at 0.0017 s, Hangup cause 19 at 4.0053 s, no DialEnd (dial.c
        ``handle_timeout_trip``). The leg rang 4.0 s: a violation risk of 64.1200(a)(6)."""
        events = timed(NO_ANSWER_ORIGINATE)
        assert "DialEnd" not in [e["Event"] for _, e in events]
        _, reports = run(events, gate_first=True)
        record = release_of(reports)
        assert record["ended_by"] == "not-answered"
        assert record["ring_ended_by"] == "timer"
        assert record["ring_ms_max"] == pytest.approx(4003.7, abs=0.2)
        assert record["ring_ms_min"] == pytest.approx(4003.6, abs=0.2)
        assert record["short_ring"] is True
        [risk] = risks_of(reports)
        assert risk["obligation"] == "min-ring"
        assert risk["limit_s"] == 15.0
        assert risk["citation"] == "47 CFR 64.1200(a)(6); 16 CFR 310.4(b)(4)(ii)"
        assert risk["elapsed_ms"] == record["ring_ms_max"]
        assert risk["still_up"] == []
        assert risk["decision_id"] == record["decision_id"]

    def test_a_prerecorded_call_also_cites_the_tsr_prerecorded_ring(self):
        _, reports = run(timed(NO_ANSWER_ORIGINATE), gate_first=True, mode="prerecorded")
        [risk] = risks_of(reports)
        assert risk["citation"] == ("47 CFR 64.1200(a)(6); 16 CFR 310.4(b)(4)(ii); "
                                    "16 CFR 310.4(b)(1)(v)(B)(i)")

    def test_a_short_dial_timeout_is_the_timer(self):
        """Dial(Local/203@callee,5): DialEnd NOANSWER at 5.0126 s, then app_dial.c
        ``hanguptree`` hangs the leg up with no cause (its Hangup: Cause 0)."""
        events = timed(NO_ANSWER_DIAL)
        _, reports = run(events, gate_first=False)
        record = release_of(reports)
        assert record["ring_ended_by"] == "timer"
        assert record["ring_ms_max"] == pytest.approx(5006.7, abs=0.2)  # 0.0059 -> 5.0126
        assert record["ring_ms_min"] == pytest.approx(5006.4, abs=0.2)  # 0.0062 -> 5.0126
        assert record["short_ring"] is True
        assert [r["obligation"] for r in risks_of(reports)] == ["min-ring"]

    def test_a_rejection_is_the_called_side_not_a_short_ring(self):
        """Hangup(21) on the callee: DialEnd NOANSWER too (``ast_hangup_cause_to_dial_status``
        of cause 21), but the leg's own Hangup carries cause 21: the called side ended it."""
        _, reports = run(timed(REJECTED), gate_first=False)
        record = release_of(reports)
        assert record["ring_ended_by"] == "called-side"
        assert record["short_ring"] is False
        assert record["ring_ms_min"] is None  # no RINGING came (the writer drops it)
        assert risks_of(reports) == []

    def test_busy_is_the_called_side(self):
        _, reports = run(timed(BUSY), gate_first=False)
        record = release_of(reports)
        assert (record["ring_ended_by"], record["short_ring"]) == ("called-side", False)
        assert risks_of(reports) == []

    def test_the_caller_cancelling_is_the_caller(self):
        """The dialling channel hung up while the leg rang (an Originate's timer on the
        shipped Local channel in front of the customer's Dial()): app_dial.c
        ``wait_for_answer`` publishes DialEnd CANCEL. Synthesised from call-03: its DialEnd
        NOANSWER turned CANCEL, at 3 s."""
        events = []
        for at, event in timed(NO_ANSWER_DIAL):
            cancelled = event["Event"] == "DialEnd" and event.get("DialStatus") == "NOANSWER"
            events.append((3.0 + (at - 5.0126) if at >= 5.0 else at,
                           {**event, "DialStatus": "CANCEL"} if cancelled else event))
        _, reports = run(events, gate_first=False)
        record = release_of(reports)
        assert record["ring_ended_by"] == "caller"
        assert record["ring_ms_max"] == pytest.approx(2994.1, abs=0.2)
        assert record["short_ring"] is True
        assert "dialling side" in risks_of(reports)[0]["reason"]

    @pytest.mark.parametrize(("cause", "by"), [("16", "timer"), ("0", "timer"),
                                               ("21", "called-side"), ("19", "called-side")])
    def test_a_sip_legs_cause_after_noanswer_tells_the_timer(self, cause, by):
        """call-03 with the called party a SIP leg: a leg the timer cancelled gets no
        cause or Normal Clearing (cacofonisk ``ab_a_cancel``: a cancelled SIP leg's Hangup
        says 16), one that ended on its own its far end's cause (603 -> 21, 480 -> 19)."""
        local = "Local/203@callee-00000005;1"
        sip = "PJSIP/itsp-00000005"
        events = []
        for at, event in timed(NO_ANSWER_DIAL):
            event = {k: sip if v == local else v for k, v in event.items()}  # noqa: PLW2901
            if event["Event"] == "Hangup" and event["Channel"] == sip:
                event["Cause"] = cause
            events.append((at, event))
        _, reports = run(events, gate_first=False)
        record = release_of(reports)
        assert record["called_channel"] == sip
        assert record["ring_ended_by"] == by
        assert record["short_ring"] is (by == "timer")

    def test_a_local_legs_normal_clearing_after_noanswer_is_the_called_side(self):
        """A Local leg's 16 is its far half's dialplan ending (cacofonisk
        ``mobile/acceptance_reject``: the ;1 Hangup says 16 after DialEnd NOANSWER)."""
        events = []
        for at, event in timed(NO_ANSWER_DIAL):
            if event["Event"] == "Hangup" and event["Channel"] == "Local/203@callee-00000005;1":
                event = {**event, "Cause": "16"}  # noqa: PLW2901
            events.append((at, event))
        _, reports = run(events, gate_first=False)
        assert release_of(reports)["ring_ended_by"] == "called-side"

    def test_a_long_enough_ring_is_no_risk(self):
        """The same timer, 20 s after the DialBegin (the shipped CALLGUARD_MIN_RING)."""
        events = [(at + 15.0 if at >= 5.0 else at, e) for at, e in timed(NO_ANSWER_DIAL)]
        _, reports = run(events, gate_first=False)
        record = release_of(reports)
        assert record["ring_ended_by"] == "timer"
        assert record["ring_ms_max"] == pytest.approx(20006.7, abs=0.2)
        assert record["short_ring"] is False
        assert risks_of(reports) == []

    def test_without_dialstate_the_shortest_ring_is_not_claimed(self):
        """manager.conf filters written before DialState was passed: the longest ring is
        still measured, the shortest is not claimed."""
        only = frozenset(USED_EVENTS) - {"DialState"}
        _, reports = run(timed(NO_ANSWER_ORIGINATE), gate_first=True, only=only)
        record = release_of(reports)
        assert record["ring_ms_min"] is None
        assert record["ring_ms_max"] == pytest.approx(4003.7, abs=0.2)
        assert record["short_ring"] is True

    def test_an_answered_call_has_no_ring_figures(self):
        _, reports = run(timed("call-01-answered-callee-hangs-up"), gate_first=False)
        record = release_of(reports)
        assert not {"ring_ms_max", "ring_ms_min", "ring_ended_by", "short_ring"} & {
            k for k, v in record.items() if v is not None}

    def test_a_ring_across_an_ami_outage_is_unknown(self):
        """AMI went away while the leg rang: its DialEnd may have been missed, so who ended
        the ring is not known and no short ring is claimed (nor denied)."""
        events = timed(NO_ANSWER_DIAL)
        cut = next(i for i, (_, e) in enumerate(events) if e["Event"] == "DialState")
        reports: list[tuple[str, dict]] = []
        tracker = GateTimed(TrackerSettings(), report=written(reports))
        linkedid = _linkedid(events)
        tracker.follow_when_asked(
            Followed(f"d-{linkedid}", linkedid, "c", "predictive", 25.0, UTAH, "+1"),
            [e for _, e in events])
        for at, event in events[:cut + 1]:
            tracker.feed(event, at)
        tracker.disconnected(1.0)
        tracker.reconcile([], 6.0)  # everything gone meanwhile
        assert tracker.calls == {}
        record = release_of(reports)
        assert record["ring_ended_by"] == "unknown (AMI disconnected)"
        assert record["short_ring"] is None
        assert [r for r in risks_of(reports) if r.get("obligation")] == []


class TestOverTheAmi:
    async def test_the_shipped_filters_pass_dialstate_and_the_ring_is_recorded(self, node):
        """The lab session over the fake AMI, with manager.conf's filters (USED_EVENTS):
        the node writes the ring on the line-release and the min-ring violation risk."""
        from tests.test_watchdog import until

        n = await node(only_events=frozenset(USED_EVENTS))
        events = lab_events(NO_ANSWER_ORIGINATE)
        assert "DialState" in USED_EVENTS
        n.follow(events)
        # an Originate straight to the customer: the gate allowed it before the DialBegin
        n.tracker.follow(n.tracker.after_originate.pop(next(iter(n.tracker.after_originate))))
        await n.fake.send(events)
        await until(lambda: n.named("line-release"))
        [record] = n.named("line-release")
        assert record["ring_ended_by"] == "timer"
        assert record["short_ring"] is True
        assert record["ring_ms_min"] is not None
        assert [r["obligation"] for r in n.named("violation-risk")] == ["min-ring"]


@pytest.fixture
async def node():
    from tests.test_watchdog import FakeAmi, Node

    made: list[Node] = []

    async def make(**kwargs) -> Node:
        made.append(await Node(FakeAmi(**kwargs)).start())
        return made[-1]

    yield make
    for each in made:
        await each.stop()
