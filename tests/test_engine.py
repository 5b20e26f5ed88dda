"""The engine's rounds: facts asked for only when needed, finished rules not re-run."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

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
    RegistrationExemption,
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



@pytest.mark.parametrize("earlier", [0, 2, 3, 5])
def test_resume_after_the_reservation_equals_a_full_round(earlier):
    """Issue 18: after the reservation only the cap rule is judged again, and the verdict
    is the one a full round gives: same outcomes, deciding rule, citation and sentence,
    whether the store counted the call (0, 2 before) or refused it (3, 5 before)."""
    from dataclasses import replace

    from callguard.policy import RESERVING, Campaign
    from callguard.policy.frequency import Ledger
    from callguard.policy.rules import frequency_claims

    policy = Policy(PACKS, PolicySettings())
    campaign = Campaign(id="fl", solicitor="acme", caller_id="+13055550100",
                        default_mode=DialingMode.MANUAL, origin_state="FL", packs=())
    at = datetime(2026, 7, 22, 16, 0, tzinfo=UTC)
    attempt = CallAttempt(PARSER.parse("3055550123"), campaign, DialingMode.MANUAL, at,
                          None, "fastagi")
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, date(2026, 7, 1), False, True) for n in plan.list_names}
    facts = Facts(lists=lists, fetched=plan.prefetch)
    first = policy.decide(plan, facts)
    assert isinstance(first, NeedFacts)
    assert first.kinds == RESERVING
    claims = frequency_claims(plan.rules, attempt)
    ledger = Ledger({"n": [(c.subject, at) for c in claims for _ in range(earlier)]})
    reserved = replace(facts, fetched=facts.fetched | RESERVING, values={
        FactKind.FREQUENCY: ledger.reserve("n", claims, at)})
    resumed = policy.resume(plan, reserved, first)
    assert resumed == policy.decide(plan, reserved, first.partial)
    assert resumed == policy.decide(plan, reserved)
    assert resumed.allowed is (earlier < 3)
    if earlier >= 3:
        assert resumed.deciding is not None
        assert resumed.deciding.rule_id == "us-fl:501.616(6)(b)"
        assert "501.616" in resumed.deciding.citation

def test_manual_call_in_hours_needs_no_record_but_the_company_list():
    """Only 64.1200(d)(3)'s list is prefetched for a manual call to an unlisted number; no
    record and no reservation is asked for (no cap applies to a Utah number): the ALLOW
    is counted under the loaded caps after the answer (``counted_after``: claims that
    only record, never refuse)."""
    from callguard.policy.frequency import RECORD_ONLY_CAP

    policy, plan, lists = plan_and_lists(DialingMode.MANUAL)
    assert plan.prefetch == {FactKind.COMPANY_DNC}
    facts = Facts(lists=lists, fetched=plan.prefetch)
    result = policy.decide(plan, facts)
    assert not isinstance(result, NeedFacts)
    assert result.allowed
    after = policy.counted_after(plan, facts, result)
    assert after
    assert all(c.cap == RECORD_ONLY_CAP for c in after)


def context_for(at: str, number: str = "8015550123"):
    """A rule's context for a manual call by the Utah campaign, every fact fetched."""
    from callguard.policy.rules import Context
    from callguard.policy.zones import local_times, resolve_zones

    attempt = CallAttempt(PARSER.parse(number), UT_CAMPAIGN, DialingMode.MANUAL,
                          datetime.fromisoformat(at))
    zones = resolve_zones(attempt.number, None, max_zones=4, every_zone_fallback=False)
    local = local_times(attempt.at, zones.zones)
    from callguard.policy.engine import call_date
    return Context(attempt, Facts(fetched=frozenset(FactKind)), local, zones.unknown_reason,
                   call_date(attempt, local))


class TestWhichPacks:
    """Statutes apply to every call in scope; house policies only where a campaign opts in."""

    def plan_for(self, campaign, at="2026-07-26T11:00:00-06:00"):
        policy = Policy(PACKS, PolicySettings())
        attempt = CallAttempt(PARSER.parse("8015550123"), campaign, DialingMode.MANUAL,
                              datetime.fromisoformat(at))
        return policy, policy.plan(attempt)

    def test_a_campaign_cannot_leave_a_statute_out(self):
        """Issue 17 kind 5: packs=("us-federal",) once dropped Utah; a Sunday was ALLOWed."""
        from dataclasses import replace
        policy, plan = self.plan_for(replace(UT_CAMPAIGN, packs=("us-federal",)))
        verdict = policy.decide(plan, Facts(lists={n: ListCheck(n, 1, date(2026, 7, 20), False,
                                                                 True)
                                                   for n in ("national", "ut-state")},
                                            fetched=frozenset(FactKind)))
        assert not verdict.allowed
        assert verdict.deciding.rule_id == "us-ut:13-25a-103(3):sunday-holiday"
        assert {p.pack_id for p in plan.packs} == {"us-federal", "us-fl", "us-md", "us-ok",
                                                   "us-ut"}
        assert {p.pack_id for p in plan.packs if p.applies} == {"us-federal", "us-ut"}

    def test_house_policy_only_when_opted_in(self):
        from dataclasses import replace
        _, without = self.plan_for(replace(UT_CAMPAIGN, packs=()))
        _, with_it = self.plan_for(UT_CAMPAIGN)
        assert "us-ut-hb45-2000" not in {p.pack_id for p in without.packs}
        assert "us-ut-hb45-2000" in {p.pack_id for p in with_it.packs}

    def test_statutes_are_listed_before_house_policies(self):
        _, plan = self.plan_for(UT_CAMPAIGN)
        assert [p.pack_id for p in plan.packs] == ["us-federal", "us-fl", "us-md", "us-ok",
                                                   "us-ut", "us-ut-hb45-2000"]

    def test_a_campaign_made_after_another_is_dropped_gets_its_own_packs(self):
        """The plan's memo names a campaign by identity: a campaign built after another was
        dropped (CPython hands its id on) still gets the packs it opts into, not the
        dropped one's (the memo holds each campaign it keys)."""
        from dataclasses import replace
        policy = Policy(PACKS, PolicySettings())
        at = datetime.fromisoformat("2026-07-22T11:00:00-06:00")
        number = PARSER.parse("8015550123")
        for turn in range(200):
            packs = ("us-ut-hb45-2000",) if turn % 2 else ()
            campaign = replace(UT_CAMPAIGN, packs=packs)
            plan = policy.plan(CallAttempt(number, campaign, DialingMode.MANUAL, at))
            fresh = Policy(PACKS, PolicySettings()).plan(
                CallAttempt(number, campaign, DialingMode.MANUAL, at))
            assert plan.packs == fresh.packs
            assert plan.rules == fresh.rules
            del campaign, plan, fresh  # without the memo holding it, its id is handed on

    def test_an_unknown_house_policy_fails_closed(self):
        from dataclasses import replace
        policy, plan = self.plan_for(replace(UT_CAMPAIGN, packs=("us-mars",)))
        verdict = policy.decide(plan, Facts(fetched=frozenset(FactKind)))
        assert verdict.deciding.rule_id == "callguard:unknown-pack"


class TestTheDateOfTheCall:
    """One instant, one date of the call: the called party's local date."""

    def test_same_instant_two_offsets_one_plan_day(self):
        policy = Policy(PACKS, PolicySettings())
        plans = [policy.plan(CallAttempt(PARSER.parse("4155550123"), UT_CAMPAIGN,
                                         DialingMode.MANUAL, datetime.fromisoformat(at)))
                 for at in ("2026-07-22T20:30:00-07:00", "2026-07-23T03:30:00+00:00",
                            "2026-07-23T13:30:00+10:00")]
        assert {p.day for p in plans} == {date(2026, 7, 22)}

    def test_the_latest_local_date_when_zones_straddle_midnight(self):
        """Denver 23:30 on the 22nd, New York 01:30 on the 23rd: the 23rd (conservative)."""
        from callguard.numbers import parse_location
        policy = Policy(PACKS, PolicySettings())
        attempt = CallAttempt(PARSER.parse("8015550123"), UT_CAMPAIGN, DialingMode.MANUAL,
                              datetime.fromisoformat("2026-07-22T23:30:00-06:00"),
                              parse_location("10001"))
        assert policy.plan(attempt).day == date(2026, 7, 23)

    def test_no_zone_means_the_utc_date(self):
        policy = Policy(PACKS, PolicySettings())
        attempt = CallAttempt(PARSER.parse("8005550123"), UT_CAMPAIGN, DialingMode.MANUAL,
                              datetime.fromisoformat("2026-07-22T20:30:00-07:00"))
        assert policy.plan(attempt).day == date(2026, 7, 23)

    def test_the_verdict_names_the_date_it_used(self):
        _, plan, lists = plan_and_lists(DialingMode.MANUAL)
        policy = Policy(PACKS, PolicySettings())
        verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
        assert verdict.call_date == date(2026, 7, 22)


class TestParameterVersions:
    """Each outcome names the parameter version that applied (for the compliance record)."""

    def test_outcomes_name_their_version(self):
        _, plan, lists = plan_and_lists(DialingMode.MANUAL)
        policy = Policy(PACKS, PolicySettings())
        verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
        versions = {o.rule_id: o.params for o in verdict.outcomes}
        assert versions["us-federal:64.1200(c)(1)"] == "2021-11-01"
        assert versions["us-ut:13-25a-103(3):sunday-holiday"] == (
            "2025-01-01; calendar us-ut:legal-holidays 2026-05-06")
        assert versions["us-ut-hb45-2000:13-26a-106(1)(f)"] == "2026-01-01"


def test_memoised_outcomes_follow_the_date_and_the_list_version():
    """One Policy deciding call after call (its rules keep outcomes by list version and
    date of the call) gives the verdict a Policy built afresh gives, for every date, list
    version, publication date and membership: a list fresh on one day is stale 32 days on,
    a new version is judged anew. The campaign varies too (its solicitor, a caller ID that
    is refused, a registration that has expired) and so does the company do-not-call
    record: an outcome a rule keeps by caller ID, solicitor or calendar day is never
    another campaign's or another day's."""
    import random
    from dataclasses import replace

    from callguard.policy import CompanyDncRecord
    from tests.conftest import load_packs

    warm = Policy(PACKS, PolicySettings())
    rng = random.Random(16)
    numbers = ["8015550123", "4355550142", "2125550123", "8885550123"]
    campaigns = [UT_CAMPAIGN, replace(UT_CAMPAIGN, solicitor="Other Solar LLC"),
                 replace(UT_CAMPAIGN, caller_id="+19005550199"),
                 replace(UT_CAMPAIGN, caller_id="+18011550100")]
    if UT_CAMPAIGN.registration is not None:
        campaigns.append(replace(UT_CAMPAIGN, registration=replace(
            UT_CAMPAIGN.registration, expires=date(2026, 8, 15))))
    dnc = CompanyDncRecord(datetime(2026, 6, 1, tzinfo=UTC))
    for _ in range(400):
        day = date(2026, 7, 1).toordinal() + rng.randrange(0, 220)  # into 2027: a new calendar
        at = datetime.fromordinal(day).replace(hour=rng.choice((3, 17, 20)), tzinfo=UTC)
        published = date.fromordinal(day - rng.choice((-1, 0, 1, 30, 31, 32, 40, 95)))
        version = rng.choice((1, 2))
        lists = {n: ListCheck(n, version, rng.choice((published, None, published)),
                              rng.random() < 0.3, rng.random() < 0.9)
                 for n in ("national", "ut-state")}
        attempt = CallAttempt(PARSER.parse(rng.choice(numbers)), rng.choice(campaigns),
                              rng.choice((DialingMode.MANUAL, DialingMode.PREDICTIVE)), at)
        facts = Facts(lists=lists, company_dnc=dnc if rng.random() < 0.2 else None,
                      fetched=frozenset(FactKind))
        cold = Policy(load_packs(), PolicySettings())
        assert warm.decide(warm.plan(attempt), facts) == cold.decide(cold.plan(attempt), facts)


@pytest.mark.parametrize(("caller_id", "shown"), [
    ("+18015550100", True),
    ("+18005550100", True),  # toll-free: can be called back
    ("+442079460000", True),  # outside the NANP: E.164 shape only
    ("+10000000000", False),  # area code 000: no one can call it back
    ("+11235550100", False),  # area code starting 1
    ("+19115550100", False),  # N11 service code, not an area code
    ("+18011550100", False),  # exchange starting 1
    ("", False),
])
def test_caller_id_must_be_a_number_that_can_be_called_back(caller_id, shown):
    """64.1601(e)(1): the number shown lets the called person make a do-not-call request;
    a +1 number outside the NANP's shape cannot (the configuration refuses it too)."""
    from dataclasses import replace

    from callguard.policy import Status
    from callguard.policy.rules import Context

    ctx = context_for("2026-07-22T12:00:00-06:00")
    attempt = replace(ctx.attempt, campaign=replace(UT_CAMPAIGN, caller_id=caller_id))
    ctx = Context(attempt, ctx.facts, ctx.local, ctx.local_unknown_reason, ctx.call_date)
    rule = next(r for r in PACKS["us-federal"].rules if r.rule_id == "us-federal:64.1601(e)")
    outcome = rule.evaluate(ctx)
    assert outcome.status is (Status.PASS if shown else Status.BLOCK)


def test_records_are_judged_at_the_call_instant():
    """A revocation, a do-not-call request or an end dated after the call's instant had not
    been made when the call was (a replay, ``check --at``): it does not reach back; at the
    very instant it does (fails closed). Before, any revocation voided the consent."""
    from callguard.policy import CompanyDncRecord, EbrRecord

    at = datetime(2026, 7, 22, 17, 0, tzinfo=UTC)
    later = datetime(2026, 8, 1, tzinfo=UTC)
    granted = datetime(2026, 1, 1, tzinfo=UTC)
    assert ConsentRecord(ConsentKind.WRITTEN, granted, revoked_at=later).valid_at(at)
    assert not ConsentRecord(ConsentKind.WRITTEN, granted, revoked_at=at).valid_at(at)
    assert not ConsentRecord(ConsentKind.WRITTEN, granted, revoked_at=granted).valid_at(at)
    # The gate judges a call placed now at its clock: a revocation since ``at`` binds it.
    assert not ConsentRecord(ConsentKind.WRITTEN, granted, revoked_at=later).valid_at(at, later)
    assert not ConsentRecord(ConsentKind.WRITTEN, granted, expires_at=later).valid_at(at, later)
    assert not CompanyDncRecord(later).made_by(at)
    assert CompanyDncRecord(at).made_by(at)
    assert not EbrRecord(date(2026, 7, 1), ended_at=later).ended_by(at)
    assert EbrRecord(date(2026, 7, 1), ended_at=at).ended_by(at)

    policy, plan, lists = plan_and_lists()  # a predictive call: written consent needed
    for dnc, allowed in ((later, True), (at, False)):
        facts = Facts(lists=lists, consents=(ConsentRecord(ConsentKind.WRITTEN, granted),),
                      company_dnc=CompanyDncRecord(dnc), fetched=frozenset(FactKind))
        verdict = policy.decide(plan, facts)
        assert not isinstance(verdict, NeedFacts)
        assert verdict.allowed is allowed, verdict.reason


@pytest.mark.parametrize(("is_atds", "allowed"), [(True, False), (False, True)])
def test_reassigned_rule_follows_the_dialer_declaration(is_atds, allowed):
    """64.1200(m) is a safe harbor from (a)(1)-(a)(3): a predictive call of a campaign whose
    dialer is declared no ATDS rests on no consent, so a void consent does not block it
    (as for a manual call); with an ATDS it does. Before, both were blocked."""
    from dataclasses import replace

    from tests.conftest import NY_CAMPAIGN

    campaign = replace(NY_CAMPAIGN, packs=(), dialer_is_atds=is_atds,
                       counsel_reference="opinion of counsel")
    policy = Policy(PACKS, PolicySettings())
    attempt = CallAttempt(PARSER.parse("2125550123"), campaign, DialingMode.PREDICTIVE,
                          datetime(2026, 7, 22, 15, 0, tzinfo=UTC))
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, date(2026, 7, 21), False, True) for n in plan.list_names}
    lists["attr-reassigned"] = ListCheck("attr-reassigned", 1, date(2026, 7, 21), True, True,
                                         date(2026, 2, 1))
    consent = ConsentRecord(ConsentKind.WRITTEN, datetime(2025, 1, 10, tzinfo=UTC))
    verdict = policy.decide(plan, Facts(lists=lists, consents=(consent,),
                                        fetched=frozenset(FactKind)))
    assert not isinstance(verdict, NeedFacts)
    assert verdict.allowed is allowed, verdict.reason
    if not allowed:
        assert verdict.deciding.rule_id == "us-federal:64.1200(m)"


@pytest.mark.parametrize(("caller_id", "allowed"), [("+19005550199", False),
                                                    ("+18005550199", True)])
def test_a_900_caller_id_is_refused(caller_id, allowed):
    """47 CFR 64.1601(e)(1): the number shown may not be a 900 number (a caller would pay
    to make a do-not-call request); a toll-free number is fine. Before, both passed."""
    from dataclasses import replace

    from tests.conftest import NY_CAMPAIGN

    campaign = replace(NY_CAMPAIGN, packs=(), caller_id=caller_id)
    policy = Policy(PACKS, PolicySettings())
    attempt = CallAttempt(PARSER.parse("2125550123"), campaign, DialingMode.MANUAL,
                          datetime(2026, 7, 22, 15, 0, tzinfo=UTC))
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, date(2026, 7, 21), False, True) for n in plan.list_names}
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind)))
    assert not isinstance(verdict, NeedFacts)
    assert verdict.allowed is allowed, verdict.reason
    if not allowed:
        assert verdict.deciding.rule_id == "us-federal:64.1601(e)"


@pytest.mark.parametrize(("paragraph", "words"), [
    ("13-26a-104(1)(c)", "exempt from registration under H.B. 45 (2000, as introduced), "
                         "proposed 13-26a-104(1)(c) (insurer)"),
    ("13-26a-104(1)(zz)", "is not a paragraph this rule lists (H.B. 45 (2000, as "
                          "introduced), proposed 13-26a-104(1)(a),"),
])
def test_a_registration_exemption_is_cited_as_the_bill_it_is(paragraph, words):
    """The paragraphs of the registration rule belong to H.B. 45 as introduced, a bill that
    never became law: the reasons a record keeps name it so, never a bare '13-26a-104',
    which reads as Utah Code (there is no chapter 13-26a)."""
    from dataclasses import replace

    from tests.conftest import NY_CAMPAIGN, decide

    campaign = replace(NY_CAMPAIGN, exemption=RegistrationExemption(paragraph, "insurer"))
    verdict = decide("8015550123", "2026-07-22T11:00:00-06:00", campaign=campaign,
                     mode=DialingMode.MANUAL)
    outcome = next(o for o in verdict.outcomes
                   if o.rule_id == "us-ut-hb45-2000:13-26a-106(1)(a)")
    assert words in outcome.reason


def test_a_call_only_house_policy_covers_is_refused_by_one_shared_outcome():
    """A fax with fax consent: the house policy's rules pass, no enacted pack covers
    faxes, so ``callguard:no-pack`` refuses it. The record encoder remembers a verdict's
    shape by the identity of its outcomes (rules' outcomes are shared values): a refusal
    made afresh for each call missed that memo every time, and each 4,096 such calls
    emptied it for every call of the node."""
    policy, plan, lists = plan_and_lists(DialingMode.FAX)
    facts = Facts(lists=lists, consents=(ConsentRecord(ConsentKind.FAX, datetime(
        2026, 1, 1, tzinfo=UTC)),), fetched=frozenset(FactKind))
    first, second = policy.decide(plan, facts), policy.decide(policy.plan(plan.attempt), facts)
    assert not isinstance(first, NeedFacts)
    assert not isinstance(second, NeedFacts)
    assert first.deciding is not None
    assert first.deciding.rule_id == "callguard:no-pack"
    assert first.deciding is second.deciding
    assert first.outcomes == second.outcomes
