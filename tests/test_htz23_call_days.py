"""htz23: candidate zones on two local dates (Guam and the mainland, an afternoon apart).

Packs and parameter versions are chosen on EVERY candidate zone's local date, not on the
latest one alone: before, a version dated the later day judged the call in the zone still
on the earlier day, and a pack that begins on the later day judged a call ringing where
it had not begun. Synthetic instants; the amendments below are examples (no shipped pack
has a rule amendment), built on the shipped us-federal pack.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime

import pytest

from callguard.numbers import NumberParser
from callguard.numbers.location import parse_location
from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    Policy,
    PolicySettings,
    Status,
    Verdict,
)
from callguard.policy.packs import pack_from_mapping
from tests.conftest import PACKS, PACKS_DIR, PARSER

CAMPAIGN = Campaign(id="htz23", solicitor="htz23 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
REGIONS = frozenset({"US", "GU"})
GU_PARSER = NumberParser(regions=REGIONS)
GUAM = parse_location("96910", regions=REGIONS)  # Hagatna, UTC+10
HOURS = ("us-federal:64.1200(c)(1)", "us-federal:310.4(c)")


def federal(**amendment: object) -> Policy:
    """The shipped federal pack, both hours rules amended from 2027-01-01 (an example)."""
    document = tomllib.loads((PACKS_DIR / "us-federal.toml").read_text())
    for entry in document["rules"]:
        if entry["id"] in HOURS:
            entry["amendments"] = [{"effective_from": date(2027, 1, 1),
                                    "source": "an example amendment (htz23 test)",
                                    "citation": entry["citation"] + " (as amended)",
                                    **copy.deepcopy(amendment)}]
    pack = pack_from_mapping(document, origin="us-federal.toml")
    return Policy({"us-federal": pack}, PolicySettings())


def decide(policy: Policy, at: datetime, number: str = "5032345678") -> Verdict:
    attempt = CallAttempt(PARSER.parse(number), CAMPAIGN, DialingMode.MANUAL, at, GUAM)
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, date(2026, 12, 20), False, True) for n in plan.list_names}
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
    assert isinstance(verdict, Verdict)
    return verdict


def test_a_later_days_loosening_does_not_judge_the_zone_still_on_the_earlier_day():
    """21:30 PST on 2026-12-31 in Portland is 15:30 on 2027-01-01 in Guam. An amendment
    from 2027-01-01 allowing calls until 10 p.m. is not in force in Portland that evening:
    64.1200(c)(1) as in force on 2026-12-31 (until 9 p.m.) blocks. Main ALLOWed (the
    latest date, 2027-01-01, chose the amended version for both zones)."""
    policy = federal(latest="22:00")
    verdict = decide(policy, datetime(2027, 1, 1, 5, 30, tzinfo=UTC))
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "us-federal:64.1200(c)(1)"
    assert verdict.deciding.params == "2021-11-01"
    assert "21:30 Thu 2026-12-31 America/Los_Angeles" in verdict.deciding.reason
    # one outcome per rule (the record keeps one letter per rule id): the strictest
    ids = [o.rule_id for o in verdict.outcomes]
    assert len(ids) == len(set(ids))
    assert verdict.call_date == date(2027, 1, 1)  # ages are still judged on the latest


def test_when_both_zones_have_reached_the_amendment_it_alone_applies():
    """A day later both dates are on or after 2027-01-01: 21:30 in Portland is inside the
    amended window and the call is allowed (the amendment is read, not ignored)."""
    verdict = decide(federal(latest="22:00"), datetime(2027, 1, 2, 5, 30, tzinfo=UTC))
    assert verdict.allowed, verdict.reason
    versions = {o.rule_id: o.params for o in verdict.outcomes if o.rule_id in HOURS}
    assert versions == dict.fromkeys(HOURS, "2027-01-01")


def test_a_later_days_tightening_judges_the_zone_on_the_later_day():
    """15:30 on 2026-12-31 in Portland is 09:30 on 2027-01-01 in Guam: an amendment from
    2027-01-01 starting calls at 10 a.m. is in force in Guam and blocks there; the version
    of 2026-12-31 passes, and the strictest outcome stands."""
    verdict = decide(federal(earliest="10:00"), datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.params == "2027-01-01"
    assert "Pacific/Guam" in verdict.deciding.reason


@pytest.mark.parametrize(("number", "location"), [("5032345678", "96910"),
                                                   ("6714770100", "97201")])
def test_a_pack_not_yet_in_force_in_one_zone_refuses_the_call(number, location):
    """us-federal begins 2021-11-01. 16:30 PDT on Sunday 2021-10-31 in Portland is 09:30 on
    2021-11-01 in Guam: in Portland the law of that day is not encoded, so the call is
    refused (callguard:no-pack), as a call dated 2021-10-31 everywhere is. Main ALLOWed it
    under the pack of 2021-11-01 (an Oregon number with a Guam CRM location, and a Guam
    number with a Portland one)."""
    policy = Policy(PACKS, PolicySettings())
    attempt = CallAttempt(GU_PARSER.parse(number), CAMPAIGN, DialingMode.MANUAL,
                          datetime(2021, 10, 31, 23, 30, tzinfo=UTC),
                          parse_location(location, regions=REGIONS))
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, date(2021, 10, 20), False, True) for n in plan.list_names}
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
    assert isinstance(verdict, Verdict)
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "callguard:no-pack"
    assert "us-federal (in force from 2021-11-01)" in verdict.deciding.reason
    assert "America/Los_Angeles" in verdict.deciding.reason


def test_one_date_one_selection_unchanged():
    """A call whose zones share a date is judged as before: one version of each rule."""
    verdict = decide(federal(latest="22:00"), datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    # 12:00 in Portland, 06:00 on 2027-01-01 in Guam: Guam before 8 a.m. under both
    assert not verdict.allowed
    verdict = decide(Policy({"us-federal": PACKS["us-federal"]}, PolicySettings()),
                     datetime(2026, 12, 31, 20, 0, tzinfo=UTC), "5032345678")
    assert [o.status for o in verdict.outcomes if o.rule_id in HOURS] == [Status.BLOCK] * 2
