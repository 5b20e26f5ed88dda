"""htz22: the date of a call when no local time is known is the UTC date, whatever offset the
instant was written with (``Context`` and ``policy.engine.call_date_at`` say so)."""

from __future__ import annotations

from datetime import date, datetime

from callguard.numbers import NumberParser
from callguard.policy.engine import call_date_at
from callguard.policy.model import CallAttempt, DialingMode, FactKind, Facts
from callguard.policy.rules.base import Context
from tests.conftest import NY_CAMPAIGN

PARSER = NumberParser(dial_prefixes=(), regions=frozenset({"US"}))


def test_a_context_without_a_day_dates_the_call_in_utc() -> None:
    """20:00 EST on 31 December is 1 January in UTC: with no zone known (a toll-free number)
    the date of the call is UTC's, as the engine's ``call_date_at`` gives it; the fallback
    read the date in the offset the client wrote (31 December), so a date-based rule judged
    the same instant on another day depending on how it was written."""
    at = datetime.fromisoformat("2026-12-31T20:00:00-05:00")
    attempt = CallAttempt(PARSER.parse("8005550123"), NY_CAMPAIGN, DialingMode.MANUAL, at)
    ctx = Context(attempt, Facts(fetched=frozenset(FactKind)), (), "no zone")
    assert call_date_at(at, ()) == date(2027, 1, 1)
    assert ctx.call_date == date(2027, 1, 1)
    same = CallAttempt(attempt.number, NY_CAMPAIGN, DialingMode.MANUAL,
                       datetime.fromisoformat("2027-01-01T01:00:00+00:00"))
    assert Context(same, ctx.facts, (), "no zone").call_date == ctx.call_date


def test_an_offsetless_time_on_a_clock_change_day_is_not_called_that_time_in_utah():
    """02:30 on Utah's spring Sunday never happened and 01:30 on the autumn one happened
    twice; the example for an --at or a record file's time without an offset called either
    "that time in Utah" (htz22), naming an instant an hour off or one of two."""
    from datetime import datetime

    from callguard.utc import utah_example

    gap = utah_example("2027-03-14T02:30", datetime(2027, 3, 14, 2, 30))
    assert gap.startswith("2027-03-14T02:30-07:00 (02:30 did not happen in Utah")
    assert "03:30 MDT" in gap
    assert "that time in Utah" not in gap
    twice = utah_example("2027-11-07T01:30", datetime(2027, 11, 7, 1, 30))
    assert twice.startswith("2027-11-07T01:30-06:00 or 2027-11-07T01:30-07:00 (01:30 happened "
                            "twice")
    plain = utah_example("2027-12-07T10:30", datetime(2027, 12, 7, 10, 30))
    assert plain == "2027-12-07T10:30-07:00 (that time in Utah, America/Denver, on that date)"
