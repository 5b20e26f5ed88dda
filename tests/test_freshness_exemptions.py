"""A stale registry copy and the calls the registry does not reach (us-federal 2026.12.11).

47 CFR 64.1200(c)(2) forbids only a "telephone solicitation" to a registered number, and a
call to a customer ((f)(5), (f)(15)(ii)) or with a signed written agreement ((c)(2)(ii)) is
not one: the copy's age (the safe harbor of (c)(2)(i)(D)) does not matter to such a call.
The age rule asks for the relationship and consent records only when the copy is stale, so
a fresh copy costs no record fetch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    EbrRecord,
    FactKind,
    Facts,
    ListCheck,
    NeedFacts,
    Policy,
    PolicySettings,
)
from tests.conftest import PACKS, PARSER

RULE = "us-federal:64.1200(c)(2)(i)(D)"
NY = Campaign(id="ny-manual", solicitor="granite-solar", caller_id="+12125550199",
              default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
AT = datetime(2026, 6, 15, 15, 0, tzinfo=UTC)  # 11:00 EDT


def _decide(published: date, fetched: frozenset[FactKind], ebr: EbrRecord | None = None):
    policy = Policy(PACKS, PolicySettings())
    plan = policy.plan(CallAttempt(PARSER.parse("2122345678"), NY, DialingMode.MANUAL, AT))
    lists = {"national": ListCheck("national", 1, published, False, True)}
    return policy.decide(plan, Facts(lists=lists, ebr=ebr, fetched=fetched))


def test_a_fresh_copy_asks_for_no_relationship():
    """Within 31 days the age rule passes without reading any record."""
    result = _decide(date(2026, 6, 1), frozenset({FactKind.COMPANY_DNC}))
    assert not isinstance(result, NeedFacts)
    assert result.allowed


def test_a_stale_copy_asks_for_the_records_that_could_exempt():
    result = _decide(date(2026, 4, 1), frozenset({FactKind.COMPANY_DNC}))
    assert isinstance(result, NeedFacts)
    assert FactKind.EBR in result.kinds


def test_a_stale_copy_passes_a_customer_as_exempt():
    result = _decide(date(2026, 4, 1), frozenset(FactKind),
                     EbrRecord(date(2026, 6, 1), None, None))
    assert not isinstance(result, NeedFacts)
    assert result.allowed
    outcome = next(o for o in result.outcomes if o.rule_id == RULE)
    assert outcome.status.name == "EXEMPT"
    assert "75 days old" in outcome.reason
    assert "established business relationship" in outcome.reason


def test_a_stale_copy_still_blocks_a_relationship_past_its_term():
    result = _decide(date(2026, 4, 1), frozenset(FactKind),
                     EbrRecord(date(2024, 12, 14), None, None))
    assert not isinstance(result, NeedFacts)
    assert not result.allowed
    assert result.deciding.rule_id == RULE
