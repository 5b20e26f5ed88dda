"""64.1200(m) when the data cannot be checked: honoured (default) or blocked (hatt20).

The safe harbor needs the database queried with current data. By default a consent is
honoured without reassigned-number data (or with a stale or uncovering copy), the decision
saying there is no safe harbor; a pack may set ``unchecked = "block"`` on the
``reassigned-numbers`` rule to refuse such calls instead. Run by the shipped case runner.
"""

from __future__ import annotations

import copy
import tomllib

import pytest

from callguard.case_files import pack_documents
from callguard.errors import ConfigError
from callguard.policy import pack_from_mapping
from callguard.policy.cases import load_suite, run_case
from tests.conftest import PACKS_DIR

CAMPAIGNS = """
[campaigns.ny-predictive]
solicitor = "granite-insurance"
caller_id = "+12125550199"
default_mode = "predictive"
origin_state = "NY"
"""
RULE = "us-federal:64.1200(m)"
PACK_DOCS = pack_documents(PACKS_DIR)


def _docs(unchecked: str | None):
    docs = copy.deepcopy(PACK_DOCS)
    for _, doc in docs:
        for rule in doc.get("rules", ()):
            if rule.get("id") == RULE and unchecked is not None:
                rule["unchecked"] = unchecked
    return docs


def _case(lists: str, consents: str, expect: str, rule: str | None) -> str:
    return f"""
name = "64.1200(m) unchecked"
words = "64.1200(m)(1): the caller ... has checked the most recent numbering information"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-predictive"
number = "2125550123"
{consents}
expect = "{expect}"
{f'rule = "{rule}"' if rule else ""}
[cases.lists]
{lists}
"""


WRITTEN = 'consents = [{ kind = "written", granted_at = 2025-01-10T00:00:00Z }]'
NONE = ""
STALE = "attr-reassigned = { loaded = true, published = 2026-05-01 }"
UNCOVERED = "attr-reassigned = { loaded = true, covered = false }"
FRESH = "attr-reassigned = { loaded = true }"


def check(case_toml: str, docs) -> None:
    doc = tomllib.loads(CAMPAIGNS + "\n[[cases]]\n" + case_toml)
    suite = load_suite("tests/test_att20_reassigned_unchecked.py", doc, docs)
    (case,) = suite.cases
    result = run_case(suite, case)
    verdict = result.verdict
    assert result.passed, (result.problems, verdict.reason,
                           [(o.rule_id, o.status.value, o.reason) for o in verdict.outcomes])


@pytest.mark.parametrize("lists", ["", STALE, UNCOVERED], ids=["none", "stale", "uncovered"])
def test_block_refuses_a_consent_it_cannot_check(lists):
    check(_case(lists, WRITTEN, "BLOCK", RULE), _docs("block"))


@pytest.mark.parametrize("lists", ["", STALE, UNCOVERED], ids=["none", "stale", "uncovered"])
def test_the_default_honours_it_without_the_safe_harbor(lists):
    check(_case(lists, WRITTEN, "ALLOW", None), _docs(None))
    check(_case(lists, WRITTEN, "ALLOW", None), _docs("honour"))


def test_block_lets_a_checked_consent_through_and_ignores_a_call_resting_on_none():
    check(_case(FRESH, WRITTEN, "ALLOW", None), _docs("block"))
    # no consent: (a)(2) decides (wireless or unknown without written consent)
    check(_case("", NONE, "BLOCK", "us-federal:64.1200(a)(2)"), _docs("block"))


def test_an_unknown_value_is_refused():
    (doc,) = [d for _, d in _docs("sometimes") if d["pack"]["id"] == "us-federal"]
    with pytest.raises(ConfigError, match="unchecked"):
        pack_from_mapping(doc, origin="us-federal (test)")
