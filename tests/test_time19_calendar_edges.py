"""The calendar and the policy core at the ends of the years `datetime` can hold.

A calendar looks a year either side of the day it is asked about (a 1 January holiday on a
Saturday is the Friday before it, 31 December of the year before). On 9999-12-31 the year
after is 10000, which `date` cannot hold: an open-ended Utah calendar raised ValueError,
and `callguard check --at 9999-12-31T12:00:00-07:00` answered "internal error" (exit 3)
with a traceback in the log, where a date the law is not encoded for is a BLOCK like
any other. Pure cores, synthetic instants.
"""

from __future__ import annotations

from datetime import date

from callguard.policy import Status
from callguard.policy.calendar import calendar_from_mapping
from tests.conftest import PACKS, decide

UTAH = PACKS["us-ut"].calendars["us-ut:legal-holidays"]


def _calendar(days: list[dict[str, object]]) -> object:
    return calendar_from_mapping("test", "t", {
        "id": "t:days", "title": "t", "citation": "t",
        "versions": [{"effective_from": date(1, 1, 2), "source": "test",
                      "sundays": "every Sunday", "days": days}]})


def test_utah_calendar_answers_on_the_last_day_datetime_holds() -> None:
    """9999-12-31 is a Friday: no holiday, no Sunday; asking must not raise. Christmas
    9999 is a Saturday, the legal holiday the Friday before it ((2)(a))."""
    assert UTAH.holidays_on(date(9999, 12, 31)) == ()
    (christmas,) = UTAH.holidays_on(date(9999, 12, 24)) or ()
    assert christmas.moved_from == date(9999, 12, 25)


def test_last_weekday_of_december_in_the_last_year() -> None:
    """"the last Friday of December" in 9999 is its 31st (no 10000-01-01 to count back
    from); and a 1 January day moved back into 9999 from 10000 is not looked for."""
    calendar = _calendar([
        {"name": "Year end", "citation": "(x)", "month": 12, "weekday": "friday", "nth": -1},
        {"name": "New Year", "citation": "(y)", "date": "01-01",
         "moves": {"saturday": -1}, "moves_citation": "(z)"},
    ])
    found = calendar.holidays_on(date(9999, 12, 31))  # type: ignore[attr-defined]
    assert [h.name for h in found] == ["Year end"]


def test_first_year_asks_no_year_zero() -> None:
    """0001-01-07 is a Sunday; the year before it does not exist."""
    calendar = _calendar([{"name": "Twelfth", "citation": "(x)", "date": "01-06"}])
    assert [h.name for h in calendar.holidays_on(date(1, 1, 7))] == [  # type: ignore[attr-defined]
        "Sunday"]


def test_policy_decides_a_call_in_year_9999() -> None:
    """The core gives a verdict (BLOCK: no list copy, every rule judged), not an error."""
    verdict = decide("8015550123", "9999-12-31T12:00:00-07:00")
    assert verdict.verdict == "BLOCK"
    rest = [o for o in verdict.outcomes if o.rule_id == "us-ut:13-25a-103(3):sunday-holiday"]
    assert rest
    assert rest[0].status is not Status.BLOCK  # a Friday, no holiday
