"""Boundaries of the deciding rules that mutation testing found unpinned (session 17, hmut12).

Most such boundaries are pinned by statute situations beside the packs
(``callguard/data/jurisdictions/*.mutants12.tests.toml``). Here: what a situation file cannot
say — a reading of the words the shipped code does not follow (``xfail(strict=True)``: the
test passes the day the code follows the words, and then the marker must go) and the
settings a case file cannot set. Each situation is written in the case format and run by
the same runner as the shipped cases (``callguard.policy.cases``).
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.case_files import pack_documents
from callguard.numbers import NumberInfo
from callguard.policy import (
    CallAttempt,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    FactKind,
    Facts,
    pack_from_mapping,
)
from callguard.policy.cases import CaseResult, load_suite, run_case
from callguard.policy.engine import call_date
from callguard.policy.packs import Obligation, combine_obligations
from callguard.policy.rules.base import Context
from callguard.policy.rules.exemptions import Exemptions
from callguard.policy.zones import local_times, resolve_zones
from tests.conftest import PACKS_DIR, PARSER, UT_CAMPAIGN

CAMPAIGNS = """
[campaigns.ny-manual]
solicitor = "granite-insurance"
caller_id = "+12125550199"
default_mode = "manual"
origin_state = "NY"
"""

PACK_DOCS = pack_documents(PACKS_DIR)


def run(case_toml: str) -> CaseResult:
    """Run one case written in the ``*.tests.toml`` format against the shipped packs."""
    doc = tomllib.loads(CAMPAIGNS + "\n[[cases]]\n" + case_toml)
    suite = load_suite("tests/test_mutants12_policy.py", doc, PACK_DOCS)
    (case,) = suite.cases
    return run_case(suite, case)


def check(case_toml: str) -> None:
    result = run(case_toml)
    verdict = result.verdict
    assert result.passed, (result.problems, verdict.reason,
                           [(o.rule_id, o.status.value, o.reason) for o in verdict.outcomes])


def test_a_purchase_dated_the_day_of_the_call_makes_no_relationship_for_it():
    """Wrong ALLOW (exemptions.py:174 `last > today`; the mutant `last >= today` survived
    every shipped case): a number on the national registry, called the day of a purchase."""
    check("""
name = "64.1200(f)(5): a purchase dated the day of the call does not precede the date of the call"
words = "64.1200(f)(5): within the eighteen (18) months immediately preceding the date of \
the telephone call"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-manual"
number = "2125550123"
lists = { national = { listed = true } }
ebr = { last_transaction = 2026-07-22 }
expect = "BLOCK"
rule = "us-federal:64.1200(c)(2)"
""")


def test_a_consent_window_needs_to_hold_only_where_the_hours_do_not():
    """Wrong BLOCK (caller's harm only): calling_hours.py asks window_fits over every zone."""
    check("""
name = "64.1200(c)(1), 812: 08:30 EDT is in hours; 07:30 CDT is in the agreed window"
words = "64.1200(c)(1); 16 CFR 310.4(c) 'without the prior consent of a person'"
at = 2026-07-22T08:30:00-04:00
campaign = "ny-manual"
number = "8125550179"
consents = [{ kind = "calling-hours", granted_at = 2026-01-01T00:00:00Z, window = "07:00-07:45" }]
expect = "ALLOW"
""")


def test_the_runner_here_judges_like_the_shipped_cases():
    """The helper is no vacuous pass: a BLOCK case that should ALLOW fails it."""
    result = run("""
name = "64.1200(c)(1): 08:30 EDT inside hours"
words = "64.1200(c)(1)"
at = 2026-07-22T08:30:00-04:00
campaign = "ny-manual"
number = "2125550123"
expect = "BLOCK"
rule = "us-federal:64.1200(c)(1)"
""")
    assert not result.passed


def _ut_without_calendar_sundays() -> list[tuple[str, dict]]:
    """The shipped packs, us-ut's legal-holiday calendar stripped of its Sunday citations
    (a calendar text that does not make Sunday a legal holiday)."""
    docs = []
    for origin, shipped in PACK_DOCS:
        doc = copy.deepcopy(shipped) if shipped["pack"]["id"] == "us-ut" else shipped
        for calendar in doc.get("calendars", ()) if doc is not shipped else ():
            for version in calendar["versions"]:
                version.pop("sundays", None)
        docs.append((origin, doc))
    return docs


def test_a_sunday_is_a_rest_day_by_the_rules_own_words_whatever_the_calendar_says():
    """13-25a-103(3)(b) 'on a Sunday' is the rule's own word (``sundays = true``), not the
    holiday calendar's: a calendar version that does not list Sundays (63G-1-301(1)(c)
    amended away, or a version entered without it) must not open Sundays.
    Kills rest_days.py:46 `(sundays or version.sundays)` -> `and`."""
    doc = tomllib.loads("""
[campaigns.ut-manual]
solicitor = "beehive-solar"
caller_id = "+18015550100"
default_mode = "manual"
origin_state = "UT"

[[cases]]
name = "13-25a-103(3)(b): Sunday 2026-07-26, the calendar silent on Sundays"
words = "13-25a-103(3): no telephone solicitation ... (b) on a Sunday"
at = 2026-07-26T11:00:00-06:00
campaign = "ut-manual"
number = "8015550123"
expect = "BLOCK"
rule = "us-ut:13-25a-103(3):sunday-holiday"
blocking = ["us-ut:13-25a-103(3):sunday-holiday"]
""")
    docs = _ut_without_calendar_sundays()
    assert sum("sundays" in v for _, d in docs for c in d.get("calendars", ())
               for v in c["versions"]) == 0
    suite = load_suite("tests/test_mutants12_policy.py", doc, docs)
    (case,) = suite.cases
    result = run_case(suite, case)
    assert result.passed, (result.problems, result.verdict.reason)


# --- site settings and combinations no shipped pack exercises ------------------------------

def _number(zones: tuple[str, ...]) -> NumberInfo:
    return NumberInfo("+12125550123", "US", 2125550123, zones, True, True)


FIVE_ZONES = ("America/New_York", "America/Chicago", "America/Denver",
              "America/Phoenix", "America/Los_Angeles")


def test_a_number_with_exactly_max_candidate_zones_is_judged_in_each():
    """``max_candidate_zones`` is the most a number may map to and still be judged from its
    own zones (64.1200(c)(1): local time at the called party's location, in every zone it
    may be in). Kills zones.py:34 `<= max_zones` -> `< max_zones`."""
    four = FIVE_ZONES[:4]
    resolved = resolve_zones(_number(four), None, max_zones=4, every_zone_fallback=False)
    assert resolved.zones == four
    assert resolved.unknown_reason is None


def test_too_many_zones_without_the_fallback_is_an_unknown_local_time():
    """A number mapping to more zones than allowed, without a CRM location, has no knowable
    local time unless the site chose ``unknown_local_time = "every-zone"``: the calling
    hours then BLOCK (fail closed). Kills zones.py:48 dropping `every_zone_fallback and`."""
    number = _number(FIVE_ZONES)
    closed = resolve_zones(number, None, max_zones=4, every_zone_fallback=False)
    assert closed.zones == ()
    assert closed.unknown_reason == "number maps to 5 time zones and no CRM location was given"
    opened = resolve_zones(number, None, max_zones=4, every_zone_fallback=True)
    assert opened.zones == FIVE_ZONES


def test_a_pack_is_not_in_force_on_its_effective_until_day():
    """``effective_until`` is exclusive (the day a text stops being law is the day its
    successor starts). No shipped pack has one yet. Kills packs.py:241 `<` -> `<=`."""
    origin, shipped = next((o, d) for o, d in PACK_DOCS if d["pack"]["id"] == "us-md")
    doc = copy.deepcopy(shipped)
    doc["pack"]["effective_until"] = date(2027, 7, 1)
    pack = pack_from_mapping(doc, origin=origin)
    assert pack.in_effect(date(2027, 6, 30))
    assert not pack.in_effect(date(2027, 7, 1))


def test_two_minimum_ring_times_combine_to_the_longer():
    """64.1200(a)(6) / 16 CFR 310.4(b)(4)(ii): ring 'for at least 15 seconds or four (4)
    rings'; where two packs set a minimum, both must hold: the longer. Only us-federal sets
    one today. Kills packs.py:257 `max` -> `min`."""
    modes = frozenset(DialingMode)
    federal = Obligation("min-ring", modes, "47 CFR 64.1200(a)(6)", 15, 4)
    stricter = Obligation("min-ring", modes, "a house policy (example)", 20, 5)
    combined = combine_obligations([federal, stricter], DialingMode.PREDICTIVE)
    assert (combined.min_ring_seconds, combined.min_rings) == (20, 5)
    combined = combine_obligations([stricter, federal], DialingMode.PREDICTIVE)
    assert (combined.min_ring_seconds, combined.min_rings) == (20, 5)


def test_a_consent_revoked_after_the_calls_instant_but_before_the_gate_judges_it_exempts_nothing():
    """64.1200(a)(10): a revocation is honoured from when it is made; the gate judges a call
    placed now at its own clock (``records_at``), so a queued call whose instant predates the
    revocation is not exempted by the revoked consent. Wrong ALLOW if ``find`` read the
    consent at the call's instant alone. Kills exemptions.py:252
    `valid_at(attempt.at, attempt.judged_at)` -> `valid_at(attempt.at)`."""
    at = datetime(2026, 7, 22, 17, tzinfo=UTC)  # 11:00 MDT
    revoked_at = at + timedelta(minutes=5)
    record = ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC),
                           revoked_at=revoked_at)
    exemptions = Exemptions(frozenset({ConsentKind.WRITTEN}), None)

    def context(judged: datetime | None) -> Context:
        attempt = CallAttempt(PARSER.parse("8015550123"), UT_CAMPAIGN,
                              DialingMode.PRERECORDED, at, records_at=judged)
        zones = resolve_zones(attempt.number, None, max_zones=4, every_zone_fallback=False)
        local = local_times(at, zones.zones)
        facts = Facts(consents=(record,), fetched=frozenset(FactKind))
        return Context(attempt, facts, local, zones.unknown_reason, call_date(attempt, local))

    assert exemptions.find(context(None)) == "written consent given 2026-01-01"  # a replay
    assert exemptions.find(context(revoked_at + timedelta(seconds=1))) is None
    assert "revoked 2026-07-22 17:05Z" in exemptions.withdrawn(
        context(revoked_at + timedelta(seconds=1)))


@pytest.mark.parametrize(("published", "harbor"), [("2026-06-21", True), ("2026-06-20", False)])
def test_the_reassigned_copy_supports_the_safe_harbor_for_31_days(published, harbor):
    """64.1200(m)(1): 'the most recent numbering information reported to the
    Administrator'; the pack's house limit is 31 days. The verdict is the same either way;
    the decision says whether the copy can support the safe harbor — what a compliance
    officer relies on. Kills us-federal.toml:154 `max_age_days = 31` -> 32 (reason only)."""
    copy_read = f"{{ loaded = true, disconnected = 2026-02-01, published = {published} }}"
    result = run(f"""
name = "64.1200(m): a reassigned copy published {published}"
words = "64.1200(m)(1): the most recent numbering information reported to the Administrator"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-manual"
mode = "predictive"
number = "2125550123"
consents = [{{ kind = "written", granted_at = 2026-03-01T00:00:00Z }}]
lists = {{ attr-reassigned = {copy_read} }}
expect = "ALLOW"
""")
    assert result.passed, result.problems
    (reason,) = [o.reason for o in result.verdict.outcomes if o.rule_id == "us-federal:64.1200(m)"]
    assert ("no safe harbor" not in reason) is harbor, reason
