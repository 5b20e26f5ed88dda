"""Utah's legal holidays, 2026-2028, walked date by date against the words of 63G-1-301.

The expected days are computed here from the subsections the us-ut pack's notes quote
((1)(a) fixed days moved by (2)(a)-(b); (1)(b) Mondays, Thursdays and Easter; Juneteenth
moved by (2)(c)-(d) in the 2025-05-07 and 2026-05-06 texts; Good Friday from 2026-05-06;
from 2027-01-01 Juneteenth also a fixed 19 June, the Monday kept beside it as the pack
encodes the reported text), not from callguard's calendar code: every weekday of the three
years must be a legal holiday in the shipped pack exactly when it is one here. Sundays are
legal holidays by (1)(c) and are left out of the comparison.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import PACKS

CALENDAR = PACKS["us-ut"].calendars["us-ut:legal-holidays"]


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, independent of callguard's)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


def _nth(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _fixed(day: date) -> date:
    """(2)(a)-(b): a Saturday's holiday is the preceding Friday, a Sunday's the Monday."""
    return day + timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def _juneteenth_monday(year: int) -> date:
    """(2)(c)-(d): on a Tuesday-Friday the preceding Monday, on a weekend the next Monday."""
    june19 = date(year, 6, 19)
    weekday = june19.weekday()
    return june19 + timedelta(days=-weekday if weekday <= 4 else 7 - weekday)


def expected(year: int) -> set[date]:
    """The legal holidays of ``year`` other than Sundays, by the words."""
    days: set[date] = set()
    for y in (year - 1, year, year + 1):  # a fixed day moved across New Year
        days |= {_fixed(date(y, m, d)) for m, d in ((1, 1), (7, 4), (7, 24), (11, 11), (12, 25))}
    days |= {_nth(year, 1, 0, 3), _nth(year, 2, 0, 3), _nth(year, 5, 0, -1),
             _nth(year, 9, 0, 1), _nth(year, 10, 0, 2), _nth(year, 11, 3, 4),
             _juneteenth_monday(year)}
    good_friday = _easter(year) - timedelta(days=2)
    if good_friday >= date(2026, 5, 6):  # (1)(b)(iii) of the 2026-05-06 text
        days.add(good_friday)
    if year >= 2027:  # the 2027-01-01 text as reported: 19 June a fixed day of (1)(a)
        days.add(_fixed(date(year, 6, 19)))
    return {d for d in days if d.year == year and d.weekday() != 6}


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_every_weekday_of_the_year_agrees_with_the_words(year: int) -> None:
    wanted = expected(year)
    found: set[date] = set()
    day = date(year, 1, 1)
    while day.year == year:
        holidays = CALENDAR.holidays_on(day)
        assert holidays is not None, f"no 63G-1-301 text encoded for {day}"
        if holidays and day.weekday() != 6:
            found.add(day)
        day += timedelta(days=1)
    assert sorted(found - wanted) == [], "encoded but not a legal holiday by the words"
    assert sorted(wanted - found) == [], "a legal holiday by the words, not encoded"


def test_the_observed_days_the_words_move() -> None:
    """The weekend cases of 2026-2028, named: the moved-to day is the holiday, not the date."""
    for moved_to, moved_from in ((date(2026, 7, 3), date(2026, 7, 4)),
                                 (date(2027, 7, 23), date(2027, 7, 24)),
                                 (date(2027, 12, 24), date(2027, 12, 25)),
                                 (date(2027, 12, 31), date(2028, 1, 1)),
                                 (date(2028, 11, 10), date(2028, 11, 11))):
        assert CALENDAR.holidays_on(moved_to), moved_to
        assert not CALENDAR.holidays_on(moved_from), moved_from
    assert CALENDAR.holidays_on(date(2027, 7, 5))  # 4 July 2027, a Sunday
    assert CALENDAR.holidays_on(date(2026, 6, 15))  # Juneteenth 2026 (a Friday), (2)(c)
    assert not CALENDAR.holidays_on(date(2026, 6, 19))
