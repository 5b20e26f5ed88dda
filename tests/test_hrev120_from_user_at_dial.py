"""hrev120: the endpoint's ``from_user`` is read while the called party rings, not at its
answer.

hcid24 issued PJSIP_ENDPOINT(<endpoint>,from_user) from ``_check_caller_id``, i.e. at the
answer (DialEnd ANSWER), the moment a short call's Hangup may be queued behind it on the
one AMI session (manager.c ``session_do`` -> ``do_message`` -> ``process_message`` runs
one action at a time: hrev113 measured a stalled read holding a release up to ~3.2 s). The
endpoint is named by the DialBegin that makes the channel the called party (chan_pjsip.c
``chan_pjsip_new``: ``PJSIP/<endpoint>-<counter>``), seconds before any answer: the read
now goes out there (cached per endpoint as before), and the answer finds it done.

The pure tracker, synthetic clock; the events are test_watchdog_examiner_went_on's
(the called party ``PJSIP/itsp-0000002a``, answered), as test_hcid24_from_user uses them.
"""

from __future__ import annotations

from callguard.watchdog.calls import PRESENTATION_VARIABLE, Followed, ReadVariable
from tests.test_hcid24_from_user import CAMPAIGN_NUMBER, FROM_USER, _Run
from tests.test_watchdog_examiner_went_on import CALL, UTAH, _customer_answered

PROBE = "PJSIP_ENDPOINT(itsp,dtmf_mode)"


def _feed(run: _Run, events: list[dict[str, str]], at: float,
          first: int = 0) -> list[tuple[str, ReadVariable]]:
    """Feed ``events`` (the i-th at ``at + i*0.01``); the reads each one caused, by event."""
    out = []
    for i, event in enumerate(events, start=first):
        shown = ({"DestConnectedLineNum": CAMPAIGN_NUMBER}
                 if event.get("DestChannel", "").startswith("PJSIP/itsp-") else {})
        effects = run.tracker.feed({**event, **shown}, at + i * 0.01)
        if i == 6:
            effects += run.tracker.follow(Followed(
                "d-0", CALL, "c", "predictive", 25.0, UTAH, CAMPAIGN_NUMBER,
                asker=events[1]["Channel"]))
        reads = [e for e in effects if isinstance(e, ReadVariable)]
        run.reads += reads
        out += [(event["Event"], r) for r in reads]
    return out


def test_the_from_user_read_goes_out_at_dial_begin_and_the_answer_finds_it_done():
    """Before (hcid24/hrev113): the read went out with the DialEnd ANSWER."""
    events = _customer_answered()
    cut = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin"
               and e["DestChannel"].startswith("PJSIP/itsp-"))
    run = _Run()
    ringing = _feed(run, events[:cut + 1], 10.0)
    assert [(name, r.channel) for name, r in ringing if r.variable == FROM_USER] == [
        ("DialBegin", "")]
    # answered while it rings (3 s of ringing), the unset proven by dtmf_mode
    run.answer(FROM_USER, "", 13.0)
    assert not [r for r in run.reads if r.variable in (FROM_USER, PROBE)]
    answered = _feed(run, events[cut + 1:], 20.0, first=cut + 1)
    assert not [r for _, r in answered if r.variable.startswith("PJSIP_ENDPOINT(")]
    assert [r.variable for _, r in answered] == [PRESENTATION_VARIABLE]
    run.answer(PRESENTATION_VARIABLE, "allowed", 20.5)
    assert run.tracker.calls[CALL].caller_id == "verified"
    assert run.reports == []


def test_a_read_still_in_flight_at_the_answer_is_not_asked_twice():
    events = _customer_answered()
    run = _Run()
    _feed(run, events, 10.0)
    assert [r.variable for r in run.reads].count(FROM_USER) == 1
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    assert run.tracker.calls[CALL].caller_id is None  # waits for the endpoint
    run.answer(FROM_USER, "18005550199", 10.6)
    assert run.tracker.calls[CALL].caller_id == "mismatch"


def test_a_ringing_read_that_failed_is_not_asked_again_at_the_answer():
    """The call's own ring-time read failed (a Getvar error or timeout: a slow realtime
    backend, say): asked again at the answer, the new read would sit in front of a Hangup
    on the one session - the very stall a4809b2 moved out of the way - and a persistent
    failure (func_pjsip_endpoint not loaded) cost 4 reads a call. The call is
    ``unverified`` with the reason, as when the only read failed; not kept for the next
    call (hrev113), which reads again while it rings. Before: asked again at the answer."""
    events = _customer_answered()
    cut = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin"
               and e["DestChannel"].startswith("PJSIP/itsp-"))
    run = _Run()
    _feed(run, events[:cut + 1], 10.0)
    run.answer(FROM_USER, None, 12.0)
    answered = _feed(run, events[cut + 1:], 20.0, first=cut + 1)
    assert [r.variable for _, r in answered] == [PRESENTATION_VARIABLE]
    run.answer(PRESENTATION_VARIABLE, "allowed", 20.5)
    assert run.tracker.calls[CALL].caller_id == "unverified"
    [unverified] = run.named("caller-id-unverified")
    assert FROM_USER in unverified["reason"]


def test_a_failure_before_the_next_call_rang_does_not_decide_it():
    """Call 0's ring read failed; call 1 rings later: it reads again (a failure is not
    kept), and its answer waits for that read, not for the old failure."""
    events = _customer_answered()
    cut = next(i for i, e in enumerate(events) if e["Event"] == "DialBegin"
               and e["DestChannel"].startswith("PJSIP/itsp-"))
    run = _Run()
    _feed(run, events[:cut + 1], 10.0)
    run.answer(FROM_USER, None, 12.0)
    second = run.answered(1, 30.0)
    assert [r.variable for r in run.reads].count(FROM_USER) == 1
    run.answer(PRESENTATION_VARIABLE, "allowed", 30.5)
    assert run.tracker.calls[second].caller_id is None  # waits for its own read
    run.answer(FROM_USER, "", 30.6)
    assert run.tracker.calls[second].caller_id == "verified"


def test_an_unfollowed_call_reads_no_endpoint():
    """A call the gate did not decide (no follow) costs no read while it rings."""
    events = _customer_answered()
    run = _Run()
    reads = []
    for i, event in enumerate(events):
        reads += [e for e in run.tracker.feed(event, 10.0 + i * 0.01)
                  if isinstance(e, ReadVariable)]
    assert not [r for r in reads if r.variable.startswith("PJSIP_ENDPOINT(")]
