"""Calling hours on the days the clocks change, judged in the called party's zone.

Regression guards (they passed when written): spring-forward Sunday 8:00 a.m. and
fall-back Sunday 8:59 p.m. local are inside 47 CFR 64.1200(c)(1)'s 8 a.m.-9 p.m. in every
zone callguard maps a US or NANP-territory number to, 7:59 a.m. and 9:00:01 p.m. are
outside; zones without DST (Phoenix, Honolulu, Puerto Rico, Guam, Pago Pago) keep their
offset; a number spanning two zones must be inside in both; Utah's rest days are the
called party's local date, not the UTC date. Pure core, instants built from zoneinfo.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callguard.numbers import NumberParser
from callguard.policy import CallAttempt, FactKind, Facts, Policy, PolicySettings, Status
from tests.conftest import NY_CAMPAIGN, PACKS, decide, lists_for

HOURS = "us-federal:64.1200(c)(1)"
REST = "us-ut:13-25a-103(3):sunday-holiday"
PARSER = NumberParser(dial_prefixes=("9",),
                      regions=frozenset({"US", "PR", "VI", "GU", "MP", "AS"}))
NUMBERS = {  # one number of each zone; 907 also maps to Adak and Honolulu (left out here)
    "America/New_York": "2125550123", "America/Chicago": "3125550123",
    "America/Denver": "3035550123", "America/Los_Angeles": "2135550123",
    "America/Phoenix": "6025550123", "America/Indiana/Indianapolis": "3175550123",
    "Pacific/Honolulu": "8085550123", "America/Puerto_Rico": "7875550123",
    "America/St_Thomas": "3407731234", "Pacific/Guam": "6714721234",
    "Pacific/Saipan": "6702341234", "Pacific/Pago_Pago": "6846331234",
}
# (y, m, d, h, min, s): the DST Sundays of 2026 and 2027 in the US
INSIDE = [(2026, 3, 8, 8, 0, 0), (2026, 11, 1, 20, 59, 59), (2027, 3, 14, 8, 0, 0),
          (2027, 11, 7, 20, 59, 0)]
OUTSIDE = [(2026, 3, 8, 7, 59, 59), (2026, 11, 1, 21, 0, 1), (2027, 3, 14, 7, 59, 0),
           (2027, 11, 7, 21, 0, 1)]


def _hours(number: str, at: datetime) -> Status:
    policy = Policy(PACKS, PolicySettings())
    plan = policy.plan(CallAttempt(PARSER.parse(number), NY_CAMPAIGN,
                                   NY_CAMPAIGN.default_mode, at, None))
    facts = Facts(lists=lists_for(number), consents=(), ebr=None, company_dnc=None,
                  fetched=frozenset(FactKind))
    verdict = policy.decide(plan, facts)
    (outcome,) = [o for o in verdict.outcomes if o.rule_id == HOURS]  # type: ignore[union-attr]
    return outcome.status


@pytest.mark.parametrize("zone", sorted(NUMBERS))
def test_dst_sundays_in_every_zone(zone: str) -> None:
    tz = ZoneInfo(zone)
    for when in INSIDE:
        at = datetime(*when, tzinfo=tz)
        assert _hours(NUMBERS[zone], at) is Status.PASS, at.isoformat()
        # the same instant written in UTC is the same call
        assert _hours(NUMBERS[zone], at.astimezone(ZoneInfo("UTC"))) is Status.PASS
    for when in OUTSIDE:
        at = datetime(*when, tzinfo=tz)
        assert _hours(NUMBERS[zone], at) is Status.BLOCK, at.isoformat()


def test_fall_back_repeated_hour_is_night_both_times() -> None:
    for fold in (0, 1):
        at = datetime(2026, 11, 1, 1, 30, fold=fold, tzinfo=ZoneInfo("America/Denver"))
        assert _hours("3035550123", at) is Status.BLOCK


def test_two_zone_number_must_be_inside_in_both() -> None:
    """812 (Evansville, Central; the rest of southern Indiana, Eastern): 8:00 a.m. Eastern
    on the spring-forward Sunday is 7:00 a.m. Central; 8:59 p.m. Central on the fall-back
    Sunday is 9:59 p.m. Eastern."""
    east, central = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
    assert _hours("8124221234", datetime(2026, 3, 8, 8, 0, tzinfo=east)) is Status.BLOCK
    assert _hours("8124221234", datetime(2026, 3, 8, 8, 0, tzinfo=central)) is Status.PASS
    assert _hours("8124221234", datetime(2026, 11, 1, 20, 59, tzinfo=central)) is Status.BLOCK
    assert _hours("8124221234", datetime(2026, 11, 1, 20, 59, tzinfo=east)) is Status.PASS


@pytest.mark.parametrize(("at", "blocked"), [
    ("2026-12-24T23:30:00Z", False),  # 4:30 p.m. Thursday 24th in Utah: no holiday yet
    ("2026-12-26T03:30:00Z", True),   # 8:30 p.m. Christmas Day in Utah, the 26th in UTC
    ("2026-12-13T03:00:00Z", False),  # 8 p.m. Saturday in Utah, Sunday in UTC
    ("2026-12-14T03:00:00Z", True),   # 8 p.m. Sunday in Utah, Monday in UTC
    ("2026-07-25T02:30:00Z", True),   # 8:30 p.m. Pioneer Day (Friday 24th) in Utah
])
def test_utah_rest_days_are_the_local_date(at: str, blocked: bool) -> None:
    verdict = decide("8015550123", at)
    (rest,) = [o for o in verdict.outcomes if o.rule_id == REST]
    assert (rest.status is Status.BLOCK) is blocked, rest.reason
