"""Without channelvars, the customer's own Dial(), unanswered while AMI was away, is read
before the calling leg's ANSWER decides (hrev78; hrev74 closed it for a customer that
carries the follow variable only).

The call of ``test_review74_own_dial_unanswered``, on an Asterisk whose manager.conf has no
``channelvars = CALLGUARD_FOLLOW`` (warned, ``ami_channelvars_missing``, and supported: this
node's gate names the asking leg). The customer was redirected while AMI was away into a
Dial() of an agent who did not answer, and is back in its dialplan (``Playback``).
app_dial.c ``dial_exec_full`` cleared its DIALEDPEERNUMBER as that Dial() began and set
nothing again: its DIALSTATUS (NOANSWER) is the only trace. ``_resume`` asked DIALSTATUS of
the dialling legs — the carriers and the asking leg — and with no picture item naming a
carrier the customer was none: never asked, its empty DIALEDPEERNUMBER said nothing, and
the calling leg's ANSWER (its peer gone) hung up every channel, the live customer among
them. Every other live leg that may be a person has its DIALSTATUS read now, the ANSWER
held until it is.

Synthetic picture from ``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real
Asterisk 22.10.1) with its ``ChanVariable`` lines taken off; pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, ReadVariable, TrackerSettings
from tests.test_review56_peer_gone import CUSTOMER, LINKEDID
from tests.test_review60_called_party import _hung_up, _tracker
from tests.test_review65_called_party import _answer
from tests.test_review74_own_dial_unanswered import OWN_DIAL, _back_in_dialplan, _settle
from tests.test_watchdog import CALLER_01, carried, written


def _no_channelvars() -> list[dict[str, str]]:
    return [{k: v for k, v in i.items() if k != "ChanVariable"} for i in _back_in_dialplan()]


def test_the_customers_unanswered_own_dial_keeps_it_up_without_channelvars():
    tracker, reports = _tracker()
    todo = tracker.reconcile(_no_channelvars(), 80.0)
    assert (CUSTOMER, "DIALSTATUS") in [(r.channel, r.variable) for r in todo
                                        if isinstance(r, ReadVariable)]
    effects, now = _answer(tracker, todo, OWN_DIAL, set(), 80.0)
    effects += _settle(tracker, now)
    assert CUSTOMER not in _hung_up(effects)
    assert _hung_up(effects) == set()
    assert tracker.calls[LINKEDID].release_unproven
    assert "violation-risk" in [name for name, _ in reports]


def test_control_a_customer_that_never_dialled_still_releases_without_channelvars():
    """No Dial() of its own (DIALSTATUS empty) and not dialled to the number: not the called
    party; the calling leg's ANSWER with its peer gone releases the call, as before."""
    tracker, _ = _tracker()
    values = {**OWN_DIAL, (CUSTOMER, "DIALSTATUS"): ""}
    effects, now = _answer(tracker, tracker.reconcile(_no_channelvars(), 80.0), values,
                           set(), 80.0)
    effects += _settle(tracker, now)
    assert CALLER_01[0] in _hung_up(effects)


def test_the_customers_dial_status_unread_is_asked_again_before_a_release():
    """Its DIALSTATUS Getvar times out: nothing is hung up then (a risk says so); asked again
    with the calling leg's and read empty, the call is released as in the control."""
    tracker, reports = _tracker()
    values = {**OWN_DIAL, (CUSTOMER, "DIALSTATUS"): ""}
    effects, now = _answer(tracker, tracker.reconcile(_no_channelvars(), 80.0), values,
                           {(CUSTOMER, "DIALSTATUS")}, 80.0)
    assert _hung_up(effects) == set()
    assert "violation-risk" in [name for name, _ in reports]
    again = tracker.due(now + 1.0)
    assert (CUSTOMER, "DIALSTATUS") in [(r.channel, r.variable) for r in again
                                        if isinstance(r, ReadVariable)]
    more, now = _answer(tracker, again, values, set(), now + 1.0)
    more += _settle(tracker, now)
    assert CALLER_01[0] in _hung_up(more)


def test_the_customers_dial_status_unread_twice_keeps_it_up():
    """Unread on the retry too: whether it ran a Dial() of its own stays unknown."""
    tracker, _ = _tracker()
    status = (CUSTOMER, "DIALSTATUS")
    effects, now = _answer(tracker, tracker.reconcile(_no_channelvars(), 80.0), OWN_DIAL,
                           {status}, 80.0)
    more, now = _answer(tracker, tracker.due(now + 1.0), OWN_DIAL, {status}, now + 1.0)
    more += _settle(tracker, now)
    assert CUSTOMER not in _hung_up(effects + more)
    assert tracker.calls[LINKEDID].release_unproven


def test_after_a_restart_without_channelvars_the_customer_is_read_too():
    """callguard restarted: the call is followed again from CALLGUARD_FOLLOW read with Getvar
    on every channel; the first answer (the calling leg's, sorted first) starts ``_resume``
    with that leg alone a carrier, so the customer's DIALSTATUS was never asked and the
    calling leg's ANSWER hung the live customer up."""
    reports: list = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    picture = _no_channelvars()
    follow = carried(decision=f"d-{LINKEDID}")
    values = {**OWN_DIAL, **{(i["Channel"], "CALLGUARD_FOLLOW"): follow for i in picture}}
    effects, now = _answer(tracker, tracker.reconcile(picture, 80.0), values, set(), 80.0)
    effects += _settle(tracker, now)
    assert (CUSTOMER, "DIALSTATUS") in [(r.channel, r.variable) for r in effects
                                        if isinstance(r, ReadVariable)]
    assert _hung_up(effects) == set()
    assert "violation-risk" in [name for name, _ in reports]
