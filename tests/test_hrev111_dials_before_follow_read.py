"""hrev111: the picture's AppDial leg Dial()s before its call is followed again.

adaf88c (hrev108) marks the checked leg ``dialled_own`` when a DialBegin names it as the
dialling Channel (app_dial.c ``dial_exec_full`` clears its DIALEDPEERNUMBER as that Dial()
begins and sets it to the answering peer's number), but only once the check has begun
(``dest_unchecked``). Without channelvars in manager.conf (README: "calls are found again
with Getvar") a rebuilt call is followed only when its CALLGUARD_FOLLOW Getvar is
answered, and ami.py ``_rebuild`` replays the events held during the picture (``_replay``)
before any Getvar it asked for has even gone out (``run`` spawns them as tasks): the
customer's redirect into a Dial() of agent 9, held then, was fed while nothing was being
checked. Unmarked, the second read named agent 9, "another number", the customer's leg
dropped as the called party: its hangup released nothing. The same shape as
``test_hrev108_checked_leg_dials`` (SYNTHESISED); pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.test_hrev108_checked_leg_dials import (
    _CUSTOMER_HANGS_UP,
    _REDIRECTED,
    AGENT9,
    CUSTOMER,
    PHONE,
    VALUE,
    _item,
)
from tests.test_hrev108_checked_leg_dials import _Run as _Hrev108Run
from tests.test_watchdog import NUMBER, written


class _Run(_Hrev108Run):
    """The picture without channelvars; the redirect held in it and replayed before the
    reconcile's follow Getvars are answered."""

    def __init__(self, customer_reads: list[str | None]) -> None:
        # _Hrev108Run's fields, its run not taken
        self.reports: list[tuple[str, dict]] = []
        self.tracker = CallTracker(TrackerSettings(number_lookup_s=1.0),
                                   report=written(self.reports))
        self.hung: dict[str, float] = {}
        self.reads: dict[str, list[str | None]] = {
            PHONE: [None, NUMBER], CUSTOMER: list(customer_reads)}
        self.now = 80.0
        self.tracker.disconnected(50.0)
        effects = self.tracker.reconcile(
            [_bare(_item(PHONE, "Dial", "b-1")), _bare(_item(CUSTOMER, "AppDial", "b-1"))],
            self.now)
        for event in _REDIRECTED:  # ami.py _replay: before any Getvar is answered
            self.now += 0.05
            effects += self.tracker.feed(event, self.now)
        self.settle(effects)
        self.tick(2.0)
        self.hangup_at = self.now + 0.1
        for event in _CUSTOMER_HANGS_UP:
            self.now += 0.05
            self.settle(self.tracker.feed(event, self.now))
        self.tick(10.0)

    def _answer(self, channel: str, variable: str) -> str | None:
        if variable == VAR_FOLLOW:
            return VALUE
        return super()._answer(channel, variable)


def _bare(item: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in item.items() if k != "ChanVariable"}


def test_a_redirect_replayed_before_the_follow_read_does_not_unmake_the_called_party():
    """Fails on 18f83e9: the second read of the customer's leg names agent 9, taken for
    another number; the customer's hangup hangs up nobody."""
    run = _Run([None, "agent9"])
    assert CUSTOMER not in run.hung
    assert {PHONE, AGENT9} <= set(run.hung)
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] <= 5000


def test_control_the_customers_leg_read_the_number_releases():
    run = _Run([None, NUMBER])
    assert {PHONE, AGENT9} <= set(run.hung)
