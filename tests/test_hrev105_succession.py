"""hrev105: a statute pack and the pack that ``succeeds`` it encode the law together.

``succeeds`` (README, [pack]) names the pack a new text replaces, and the expiry warning
is silenced by a successor; but the engine's ``callguard:no-pack`` (hacc9, f755098) asked
only of each pack alone whether it is in force on the date of the call: with a pack
ending 2027-01-01 and its successor beginning that day both loaded, every call in scope
was refused, before the change (the successor "not in force") and after it (the
predecessor "not in force"). htz23 asks it of every candidate zone's date, so the day of
the change is refused too. The law of a day is encoded when a pack of the succession
is in force on it. Synthetic packs built on the shipped us-federal pack; synthetic
instants.
"""

from __future__ import annotations

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
    Verdict,
)
from callguard.policy.packs import pack_from_mapping
from tests.conftest import PACKS_DIR

REGIONS = frozenset({"US", "GU"})
PARSER = NumberParser(regions=REGIONS)
CAMPAIGN = Campaign(id="hrev105", solicitor="hrev105 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())


def _succession(*, successor: bool = True) -> Policy:
    text = (PACKS_DIR / "us-federal.toml").read_text()
    old = tomllib.loads(text)
    old["pack"]["effective_until"] = date(2027, 1, 1)
    packs = {"us-federal": pack_from_mapping(old, origin="us-federal.toml")}
    if successor:
        new = tomllib.loads(text.replace("us-federal:", "us-federal-2027:"))
        new["pack"].update(id="us-federal-2027", version="2027.1.0",
                           effective_from=date(2027, 1, 1), succeeds="us-federal")
        packs["us-federal-2027"] = pack_from_mapping(new, origin="us-federal-2027.toml")
    return Policy(packs, PolicySettings())


def _decide(policy: Policy, at: datetime, location: str | None) -> Verdict:
    where = parse_location(location, regions=REGIONS) if location else None
    attempt = CallAttempt(PARSER.parse("5032345678"), CAMPAIGN, DialingMode.MANUAL, at,
                          where)
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, at.date().replace(day=1), False, True)
             for n in plan.list_names}
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
    assert isinstance(verdict, Verdict)
    return verdict


@pytest.mark.parametrize(("at", "location", "packs"), [
    # 10:00 PST in Portland, the predecessor's text
    (datetime(2026, 12, 15, 18, 0, tzinfo=UTC), None, {"us-federal"}),
    # 10:00 PST in Portland, the successor's text
    (datetime(2027, 1, 15, 18, 0, tzinfo=UTC), None, {"us-federal-2027"}),
    # 16:00 PST on 2026-12-31 in Portland, 10:00 on 2027-01-01 in Guam (CRM): both texts
    (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "96910", {"us-federal", "us-federal-2027"}),
])
def test_a_successor_pack_continues_the_law(at, location, packs):
    """Every one of these was BLOCKed callguard:no-pack (the first two on main before
    htz23 as well)."""
    verdict = _decide(_succession(), at, location)
    assert verdict.allowed, verdict.reason
    assert {p.pack_id for p in verdict.packs if p.applies} == packs


def test_without_a_successor_the_ended_pack_still_refuses():
    """The fail-closed refusal stands where no pack of the succession is in force."""
    verdict = _decide(_succession(successor=False), datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
                      "96910")
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "callguard:no-pack"
    assert "until 2027-01-01" in verdict.deciding.reason
