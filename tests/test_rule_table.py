"""The statute cases as a whole, and what a case file cannot express.

The situations themselves live beside each pack (``callguard/data/jurisdictions/*.tests.toml``)
and are collected one by one by ``callguard/statute_plugin.py``. Here: every rule of every
shipped pack must block in at least one BLOCK case and pass in at least one ALLOW case
(or, for a fax-only house rule, a case only ``callguard:no-pack`` blocks; with the packs'
default readings), every shipped pack has its cases file, and the duties
after dialling (obligations) are checked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callguard.case_files import CASES_SUFFIX as SUFFIX
from callguard.case_files import read_suite
from callguard.policy import ConsentKind, ConsentRecord, DialingMode, Status
from callguard.policy.cases import CaseSuite, run_case
from tests.conftest import PACKS, PACKS_DIR, decide

GRANTED = datetime(2026, 1, 1, tzinfo=UTC)


def shipped_suites() -> list[CaseSuite]:
    return [read_suite(path) for path in sorted(PACKS_DIR.glob(f"*{SUFFIX}"))]


def coverage_of(suites: list[CaseSuite], skip=lambda case, verdict: False):
    """Rule id -> number of BLOCK cases it blocks in / ALLOW cases it passes in (or cases
    only the refusal of a call no enacted pack covers blocks)."""
    blocks: dict[str, int] = {}
    passes: dict[str, int] = {}
    for suite in suites:
        for case in suite.cases:
            if case.choices or case.proclaimed:
                continue  # the meta-test counts the packs as shipped
            result = run_case(suite, case)
            assert result.passed, (case.name, result.problems)
            if skip(case, result.verdict):
                continue
            # A fax only house policy covers is refused (callguard:no-pack) whatever its
            # rules say: a case where that refusal alone blocks shows its rules passing.
            allowed = case.expect == "ALLOW" or {
                o.rule_id for o in result.verdict.outcomes if o.status is Status.BLOCK
            } == {"callguard:no-pack"}
            for outcome in result.verdict.outcomes:
                if case.expect == "BLOCK" and outcome.status is Status.BLOCK:
                    blocks[outcome.rule_id] = blocks.get(outcome.rule_id, 0) + 1
                if allowed and outcome.status is Status.PASS:
                    passes[outcome.rule_id] = passes.get(outcome.rule_id, 0) + 1
    return blocks, passes


@pytest.fixture(scope="module")
def coverage() -> tuple[dict[str, int], dict[str, int]]:
    return coverage_of(shipped_suites())


@pytest.mark.parametrize("rule_id", sorted(r.rule_id for p in PACKS.values() for r in p.rules))
def test_every_rule_blocks_a_block_case_and_passes_an_allow_case(coverage, rule_id):
    """A rule without a statute situation on each side does not exist (ARCHITECTURE.md)."""
    blocks, passes = coverage
    assert blocks.get(rule_id, 0) >= 1, f"{rule_id} blocks in no BLOCK case"
    assert passes.get(rule_id, 0) >= 1, f"{rule_id} passes in no ALLOW case"


def test_every_shipped_pack_has_its_cases_beside_it():
    """callguard/data/jurisdictions/<pack>.tests.toml exists for every pack."""
    for pack_id in PACKS:
        assert (PACKS_DIR / f"{pack_id}{SUFFIX}").is_file(), pack_id


def test_the_meta_test_sees_a_rule_no_case_blocks_on():
    """Without the cases where 13-25a-108 blocks, the coverage has no BLOCK for it."""
    rule = "us-ut:13-25a-108"

    def blocks_on_108(case, verdict):
        return any(o.rule_id == rule and o.status is Status.BLOCK for o in verdict.outcomes)

    blocks, _ = coverage_of(shipped_suites(), skip=blocks_on_108)
    assert rule not in blocks
    assert rule in coverage_of(shipped_suites())[0]


class TestObligations:
    """Duties after dialling: the shortest line release, the longest ring."""

    def written(self) -> ConsentRecord:
        return ConsentRecord(ConsentKind.WRITTEN, GRANTED)

    def test_prerecorded_release_is_federal_5_seconds(self):
        """47 U.S.C. 227(d)(3)(B) with the FCC's rule (5 s) is stricter than 13-25a-103(5)(e)."""
        result = decide(mode=DialingMode.PRERECORDED, consents=(self.written(),))
        assert result.obligations.line_release_seconds == 5
        assert result.obligations.line_release_citation == "47 U.S.C. 227(d)(3)(B); 47 CFR 68.318"

    def test_predictive_release_is_the_federal_5_seconds_and_ring_15(self):
        """227(d)(3)(B) 5 s (a predictive dialer plays the (a)(7)(i) message: shorter than
        Utah's 25 s, 13-25a-103(5)(e)); 64.1200(a)(6) 15 s / 4 rings."""
        result = decide(mode=DialingMode.PREDICTIVE, consents=(self.written(),))
        assert result.obligations.line_release_seconds == 5
        assert result.obligations.line_release_citation == "47 U.S.C. 227(d)(3)(B); 47 CFR 68.318"
        assert (result.obligations.min_ring_seconds, result.obligations.min_rings) == (15, 4)
