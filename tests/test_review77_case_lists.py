"""A statute case is decided with the lists the gate fetches for its plan (hrev77).

The case runner handed every rule every list a pack reads, so a gate that never fetched
a list for the call's mode still passed the case: hatt20 found the national registry lifted
on a manual call by the previous subscriber's signed agreement while the case
"64.1200(m): the previous subscriber's signed agreement does not lift the national
registry block" BLOCKed it. With only ``plan.list_names`` handed, that gate fails the case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.case_files import read_suite
from callguard.policy import cases, engine
from callguard.policy.cases import run_case
from callguard.policy.rules.number_kind import REASSIGNED_LIST

CASES = Path(cases.__file__).parent.parent / "data" / "jurisdictions" / "us-federal.tests.toml"
SIGNED = "64.1200(m): the previous subscriber's signed agreement does not lift the national " \
         "registry block"


def _case():
    suite = read_suite(CASES)  # a fresh suite: its policies (and plans) are built anew
    (case,) = [c for c in suite.cases if c.name == SIGNED]
    return suite, case


def test_the_case_passes_with_the_gates_lists():
    suite, case = _case()
    assert case.attempt is not None
    assert case.attempt.mode.value == "manual"
    assert run_case(suite, case).passed


def test_a_gate_that_does_not_fetch_the_reassigned_data_for_a_manual_call_fails_the_case(
        monkeypatch: pytest.MonkeyPatch):
    """The gate's plan as before hatt20: only the lists the selected rules name."""
    monkeypatch.setattr(engine, "lists_read", lambda rule: rule.list_names)
    suite, case = _case()
    plan = suite.policy(case).plan(case.attempt)
    assert REASSIGNED_LIST not in plan.list_names
    result = run_case(suite, case)
    assert not result.passed
    assert result.verdict.verdict == "ALLOW"


def test_a_list_the_plan_does_not_read_is_not_handed_to_the_rules():
    suite, case = _case()
    plan = suite.policy(case).plan(case.attempt)
    fetched = cases.as_fetched(case.facts, plan)
    assert set(fetched.lists) == set(plan.list_names)
    assert set(case.facts.lists) - set(plan.list_names)  # the case names more
