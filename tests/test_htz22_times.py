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
