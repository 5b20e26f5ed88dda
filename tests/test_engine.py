"""The engine's rounds: facts asked for only when needed, finished rules not re-run."""

from __future__ import annotations

from datetime import UTC, date, datetime

from callguard.policy import (
    CallAttempt,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    NeedFacts,
    Policy,
    PolicySettings,
)
from tests.conftest import PACKS, PARSER, UT_CAMPAIGN


def plan_and_lists(mode=DialingMode.PREDICTIVE):
    policy = Policy(PACKS, PolicySettings())
    attempt = CallAttempt(PARSER.parse("8015550123"), UT_CAMPAIGN, mode,
                          datetime(2026, 7, 22, 17, 0, tzinfo=UTC))
    lists = {n: ListCheck(n, 1, date(2026, 7, 1), False, True) for n in ("national", "ut-state")}
    return policy, policy.plan(attempt), lists


def test_first_round_asks_only_for_what_could_exempt():
    """A predictive call with only the company list fetched asks for consent records."""
    policy, plan, lists = plan_and_lists()
    result = policy.decide(plan, Facts(lists=lists, fetched=frozenset({FactKind.COMPANY_DNC})))
    assert isinstance(result, NeedFacts)
    assert result.kinds == {FactKind.CONSENT}
    assert sum(o is None for o in result.partial) == 1


def test_second_round_with_partial_equals_a_full_round():
    """Reusing the first round's outcomes gives the same verdict as deciding afresh."""
    policy, plan, lists = plan_and_lists()
    first = policy.decide(plan, Facts(lists=lists, fetched=frozenset({FactKind.COMPANY_DNC})))
    consent = ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC))
    full = Facts(lists=lists, consents=(consent,), fetched=frozenset(FactKind))
    resumed = policy.decide(plan, full, first.partial)
    fresh = policy.decide(plan, full)
    assert resumed == fresh
    assert resumed.allowed


def test_manual_call_in_hours_needs_no_record_but_the_company_list():
    """Only 64.1200(d)(3)'s list is prefetched for a manual call to an unlisted number."""
    policy, plan, lists = plan_and_lists(DialingMode.MANUAL)
    assert plan.prefetch == {FactKind.COMPANY_DNC}
    result = policy.decide(plan, Facts(lists=lists, fetched=plan.prefetch))
    assert not isinstance(result, NeedFacts)
    assert result.allowed
