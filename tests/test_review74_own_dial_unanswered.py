"""The customer's own Dial(), unanswered while AMI was away, is read before the calling
leg's ANSWER decides (hrev74; left open by hrev68).

The customer of ``test_review56_peer_gone`` (the calling leg's Dial() answered by a Local
pair since optimised away: DIALEDPEERNAME names a channel gone) was redirected while AMI was
away into a Dial() of an agent who did not answer, and is back in its dialplan
(``Playback``). app_dial.c ``dial_exec_full`` cleared its DIALEDPEERNUMBER and
DIALEDPEERNAME as that Dial() began ("Reset all DIAL variables back to blank") and, with no
answer, set neither again: its DIALSTATUS (NOANSWER) is all that says it ran a Dial() of its
own, so its DIALEDPEERNUMBER no longer says how it was reached. ``_resume`` asks every
leg's DIALSTATUS, but each was decided as it came, the calling leg's first (sorted:
``Local/…`` before ``PJSIP/…``): its ANSWER, no live leg naming the number, released the
call before the customer's NOANSWER was read — the customer, alive, was hung up.

Synthetic picture from ``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real
Asterisk 22.10.1); pure tracker, synthetic clock.
"""

from __future__ import annotations

from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_review60_called_party import _hung_up, _tracker
from tests.test_review65_called_party import _answer
from tests.test_watchdog import CALLER_01

OWN_DIAL = {**VALUES, (CUSTOMER, "DIALEDPEERNUMBER"): "", (CUSTOMER, "DIALSTATUS"): "NOANSWER"}


def _settle(tracker, now: float, seconds: int = 60) -> list:
    return [e for t in range(1, seconds) for e in tracker.due(now + t)]


def _back_in_dialplan() -> list[dict[str, str]]:
    return [{**i, "Application": "Playback"} if i["Channel"] == CUSTOMER else i
            for i in _picture()]


def test_the_customers_unanswered_own_dial_keeps_it_up():
    tracker, reports = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_back_in_dialplan(), 80.0), OWN_DIAL,
                           set(), 80.0)
    effects += _settle(tracker, now)
    assert CUSTOMER not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    assert "violation-risk" in [name for name, _ in reports]


def test_control_a_customer_that_never_dialled_still_releases_the_calling_leg():
    """No Dial() of its own (DIALSTATUS empty) and not dialled to the number: not the called
    party; the calling leg's ANSWER with its peer gone releases it, as before."""
    tracker, _ = _tracker()
    values = {**OWN_DIAL, (CUSTOMER, "DIALSTATUS"): ""}
    effects, now = _answer(tracker, tracker.reconcile(_back_in_dialplan(), 80.0), values,
                           set(), 80.0)
    effects += _settle(tracker, now)
    assert CALLER_01[0] in _hung_up(effects) or CALLER_01[1] in _hung_up(effects)


def test_the_customers_dial_status_unread_keeps_it_up_till_read():
    """The customer's DIALSTATUS Getvar times out: whether it ran a Dial() of its own is not
    known, and nothing is hung up then; read on the retry as its unanswered Dial(), the
    release stays unproven."""
    tracker, _ = _tracker()
    status = (CUSTOMER, "DIALSTATUS")
    effects, now = _answer(tracker, tracker.reconcile(_back_in_dialplan(), 80.0), OWN_DIAL,
                           {status}, 80.0)
    assert CUSTOMER not in _hung_up(effects)
    more, now = _answer(tracker, tracker.due(now + 1.0), OWN_DIAL, set(), now + 1.0)
    more += _settle(tracker, now)
    assert CUSTOMER not in _hung_up(effects + more)
