"""Reviewer hrev132: hwd26's follow re-ask is per picture — each picture asks anew, may ask
once more again, and says anew.

``reconcile`` clears the follow re-ask's marks (``follow_reask``, ``follow_asked_again``,
``follow_unread``, ``follow_unread_said``) as it clears the DIALSTATUS ones: marked for the
call's life, a channel once asked twice would be "unread" at once on every later
picture — never asked again, the call never followed, its called party's hangup releasing
nothing — and said only once in the call's life. No test of hwd26 showed it: the clears
could be taken out with every test passing.

The dialer's Local pair and the customer of ``test_hwd26_follow_reask`` (its picture and
events); two outages (50-80, then 81/83-90); ``retry_s`` 0.5 s. Pure tracker, synthetic
clock.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callguard.watchdog.calls import CallTracker, HangupChannel, ReadVariable, TrackerSettings
from tests.test_hwd26_follow_reask import (
    _CUSTOMER_HANGS_UP,
    CARRIERS,
    CUSTOMER,
    FOLLOW,
    ONE,
    TWO,
    VALUE,
    _event,
    _item,
)
from tests.test_watchdog import written

PICTURE = [_item(CUSTOMER, "AppDial", "b-d"), _item(TWO, "Dial", "b-d"), _item(ONE, "Wait", "")]

# How a follow read is answered: (picture number, reads of the channel before, in it)
Answer = Callable[[int, int], "str | None"]


class _Run:
    def __init__(self, answer: Answer) -> None:
        self.reports: list[tuple[str, dict]] = []
        self.warned: list[dict] = []
        self.tracker = CallTracker(TrackerSettings(), report=written(self.reports))
        self.tracker.warn = lambda name, **fields: self.warned.append({"name": name, **fields})
        self.answer = answer
        self.picture = 0
        self.asked: list[tuple[int, str, float]] = []  # (picture, channel, when)
        self.hung: list[str] = []
        self.now = 0.0

    def outage(self, since: float, until: float) -> None:
        self.tracker.disconnected(since)
        self.now = until
        self.picture += 1
        self.settle(self.tracker.reconcile(PICTURE, self.now))

    def run_until(self, until: float, events: list[dict[str, str]] | None = None) -> None:
        events = list(events or [])
        while self.now < until - 1e-9:
            self.now = round(self.now + 0.1, 6)
            if events:
                self.settle(self.tracker.feed(events.pop(0), self.now))
            self.settle(self.tracker.due(self.now))

    def settle(self, effects: list) -> None:
        while effects:
            done, effects = effects, []
            for effect in done:
                if isinstance(effect, HangupChannel):
                    self.hung.append(effect.channel)
                    effects += self.tracker.feed(_event("Hangup", effect.channel), self.now)
                elif isinstance(effect, ReadVariable):
                    value: str | None = ""
                    if effect.variable == FOLLOW:
                        before = sum(1 for p, c, _ in self.asked
                                     if p == self.picture and c == effect.channel)
                        self.asked.append((self.picture, effect.channel, self.now))
                        value = (self.answer(self.picture, before)
                                 if effect.channel in CARRIERS else "")
                    effects += self.tracker.variable_read(effect.linkedid, effect.channel,
                                                          effect.variable, value, self.now)

    def asks(self, picture: int) -> list[float]:
        return [t for p, c, t in self.asked if p == picture and c == TWO]


def test_a_second_picture_asks_once_more_again_and_follows_the_call() -> None:
    """The first picture's reads go unanswered twice (said); a second outage; the second
    picture's first read unanswered, its re-ask answered: the call is followed and the
    customer's hangup releases the dialer's pair."""
    run = _Run(lambda picture, before: VALUE if picture == 2 and before == 1 else None)
    run.outage(50.0, 80.0)
    run.run_until(82.0)
    assert len(run.asks(1)) == 2
    assert [w["name"] for w in run.warned] == ["watchdog_follow_unread"]
    run.outage(83.0, 90.0)
    run.run_until(92.0)
    assert len(run.asks(2)) == 2  # asked once more in this picture too
    run.run_until(94.0, _CUSTOMER_HANGS_UP)
    assert sorted(run.hung) == sorted([ONE, TWO])
    [record] = [f for name, f in run.reports if name == "line-release"]
    assert record["ended_by"] == "called-party"


def test_a_second_picture_unread_twice_is_said_again() -> None:
    run = _Run(lambda picture, before: None)
    run.outage(50.0, 80.0)
    run.run_until(82.0)
    run.outage(83.0, 90.0)
    run.run_until(92.0)
    assert [len(run.asks(1)), len(run.asks(2))] == [2, 2]
    assert [w["name"] for w in run.warned] == ["watchdog_follow_unread"] * 2
    assert run.hung == []


@pytest.mark.parametrize("away_for", [0.1, 2.0])
def test_a_re_ask_left_by_an_outage_is_not_sent_into_the_next_picture(away_for: float) -> None:
    """AMI goes away before the first picture's re-ask is due; the next picture asks anew
    and re-asks ``retry_s`` after its own first read — not at the old, stale time."""
    run = _Run(lambda picture, before: None)
    run.outage(50.0, 80.0)
    run.run_until(80.2)
    run.tracker.disconnected(80.2)
    run.run_until(80.2 + away_for)
    run.outage(80.2, 80.2 + away_for)
    run.run_until(85.0)
    assert run.asks(1) == [80.0]
    first, again = run.asks(2)
    assert again - first >= 0.5 - 1e-6


def test_a_second_picture_read_as_unset_says_nothing_of_the_first_ones_unread() -> None:
    """The first picture's reads go unanswered twice (said); the second picture's are
    answered "not set" (not a call the gate allowed): when the call ends nothing more is
    said — the first picture's unread channels are not this one's."""
    run = _Run(lambda picture, before: None if picture == 1 else "")
    run.outage(50.0, 80.0)
    run.run_until(82.0)
    run.outage(83.0, 90.0)
    run.run_until(91.0, [_event("Hangup", CUSTOMER), _event("Hangup", TWO),
                         _event("Hangup", ONE)])
    assert run.tracker.calls == {}
    assert [w["name"] for w in run.warned] == ["watchdog_follow_unread"]
    assert run.asks(2) == [90.0]
