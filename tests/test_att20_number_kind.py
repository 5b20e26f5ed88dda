"""What the wireless attribute lists say about a number's kind, at the edges (hatt20).

Written in the statute-case format and run by the shipped runner (``callguard.policy.cases``)
against the shipped packs, or a copy of us-federal whose 64.1200(a)(2) rule names other
``kind_lists`` (a pack a site may write: the key accepts ``["wireless"]`` alone).
"""

from __future__ import annotations

import copy
import tomllib

from callguard.case_files import pack_documents
from callguard.policy.cases import CaseResult, load_suite, run_case
from tests.conftest import PACKS_DIR

CAMPAIGNS = """
[campaigns.ny-predictive]
solicitor = "granite-insurance"
caller_id = "+12125550199"
default_mode = "predictive"
origin_state = "NY"
"""

PACK_DOCS = pack_documents(PACKS_DIR)


def _with_kind_lists(kinds: list[str]):
    docs = copy.deepcopy(PACK_DOCS)
    for _, doc in docs:
        for rule in doc.get("rules", ()):
            if rule.get("id") == "us-federal:64.1200(a)(2)":
                rule["kind_lists"] = kinds
    return docs


def run(case_toml: str, docs=PACK_DOCS) -> CaseResult:
    doc = tomllib.loads(CAMPAIGNS + "\n[[cases]]\n" + case_toml)
    suite = load_suite("tests/test_att20_number_kind.py", doc, docs)
    (case,) = suite.cases
    return run_case(suite, case)


def check(case_toml: str, docs=PACK_DOCS) -> CaseResult:
    result = run(case_toml, docs)
    verdict = result.verdict
    assert result.passed, (result.problems, verdict.reason,
                           [(o.rule_id, o.status.value, o.reason) for o in verdict.outcomes])
    return result


def test_a_number_on_a_loaded_ported_to_wireless_list_is_wireless_whatever_kind_lists_names():
    """Wrong ALLOW: with kind_lists = ["wireless"] the ported-to-wireless copy was fetched
    (the rule reads all three lists) but only the lists it named could mark a number
    wireless, so a landline ported into cellular service, absent from the block list, was
    dialled by a predictive dialer without written consent."""
    check("""
name = "64.1200(a)(2): a number the loaded ported-to-wireless list holds is wireless"
words = "64.1200(a)(1)(iii): any telephone number assigned to a ... cellular telephone service"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-predictive"
number = "2125550123"
expect = "BLOCK"
rule = "us-federal:64.1200(a)(2)"
[cases.lists]
attr-wireless = { loaded = true }
attr-ported-wireless = { loaded = true, listed = true }
""", _with_kind_lists(["wireless"]))


def test_a_stale_ported_to_wireless_copy_that_holds_the_number_still_marks_it():
    """A port into wireless service an old copy shows is no less a port: only a later port
    to wireline (the ported-to-wireline list) could undo it, and both lists together are of
    unknown kind."""
    check("""
name = "64.1200(a)(2): an old ported-to-wireless copy holding the number is not ignored"
words = "64.1200(a)(1)(iii): any telephone number assigned to a ... cellular telephone service"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-predictive"
number = "2125550123"
expect = "BLOCK"
rule = "us-federal:64.1200(a)(2)"
[cases.lists]
attr-wireless = { loaded = true }
attr-ported-wireless = { loaded = true, listed = true, published = 2026-05-01 }
""", _with_kind_lists(["wireless"]))


def test_the_shipped_reading_is_unchanged_for_a_landline():
    result = check("""
name = "64.1200(a)(2): a number on no fresh wireless list is a landline"
words = "64.1200(a)(2) reaches the lines of (a)(1)(i)-(iii)"
at = 2026-07-22T11:00:00-04:00
campaign = "ny-predictive"
number = "2125550123"
lists = { attr-wireless = { loaded = true }, attr-ported-wireless = { loaded = true } }
expect = "ALLOW"
""", _with_kind_lists(["wireless"]))
    (exempt,) = [o for o in result.verdict.outcomes if o.rule_id == "us-federal:64.1200(a)(2)"]
    assert "not a wireless number" in exempt.reason
