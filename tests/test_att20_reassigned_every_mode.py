"""Reassigned-number data read for every call a consent or relationship can lift (hatt20).

The gate fetched only the lists of the rules selected for the call's mode, and the
``reassigned-numbers`` rule (47 CFR 64.1200(m)) covers predictive and prerecorded calls: a
manual telemarketing call to a number on the national registry was ALLOWed on the previous
subscriber's signed agreement (64.1200(c)(2)(ii)) or purchase (64.1200(f)(5)), although the
loaded data said the number had been permanently disconnected since. The statute case
"the previous subscriber's signed agreement does not lift the national registry block"
passed only because the case runner hands every rule every list.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from callguard.policy import CallAttempt, DialingMode
from callguard.policy.engine import Policy, PolicySettings
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from tests.conftest import PACKS, PARSER, UT_CAMPAIGN
from tests.test_cli import cli

AT = "2026-12-09T11:00:00-05:00"  # a Wednesday, 11:00 in New York
NUMBER = "2125550142"


def _site(root, *, reassigned: bool):
    """National registry holding the number; a Utah list that does not; the data loaded."""
    root.mkdir()
    today = datetime.now(UTC).date().isoformat()
    (root / "national.txt").write_text(f"{NUMBER}\n")
    (root / "ut.txt").write_text("2125550999\n")
    for name, path in (("national", "national.txt"), ("ut-state", "ut.txt")):
        cli("dnc", "import", str(root / path), "--list", name, "--published", today,
            "--covers", "all", data_dir=root, check=True)
    if reassigned:
        (root / "rnd.csv").write_text(f"{NUMBER},2026-06-01\n")
        cli("attributes", "import", str(root / "rnd.csv"), "--kind", "reassigned",
            "--published", today, "--covers", "all", data_dir=root, check=True)
    return root


def _check(root):
    result = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at", AT, "--json",
                 data_dir=root)
    return json.loads(result.stdout)


def _registry(decision):
    (outcome,) = [o for o in decision["outcomes"] if o["rule"] == "us-federal:64.1200(c)(2)"]
    return outcome


def test_previous_subscribers_written_consent_does_not_lift_the_registry_on_a_manual_call(
        tmp_path):
    root = _site(tmp_path / "site", reassigned=True)
    cli("consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind", "written",
        "--granted", "2025-01-10T12:00:00Z", data_dir=root, check=True)
    decision = _check(root)
    assert decision["verdict"] == "BLOCK", decision["reason"]
    registry = _registry(decision)
    assert registry["status"] == "block"
    assert "void: the number was permanently disconnected on 2026-06-01" in registry["reason"]
    assert {"name": REASSIGNED_LIST, "version": 1} in decision["lists"]


def test_previous_subscribers_purchase_does_not_lift_the_registry_on_a_manual_call(tmp_path):
    root = _site(tmp_path / "site", reassigned=True)
    cli("ebr", "add", NUMBER, "--campaign", "ut-solar-manual", "--last-transaction",
        "2026-05-01", data_dir=root, check=True)
    decision = _check(root)
    assert decision["verdict"] == "BLOCK", decision["reason"]
    assert "the business relationship void" in _registry(decision)["reason"]


def test_the_new_subscribers_consent_still_lifts_it_and_no_data_changes_nothing(tmp_path):
    root = _site(tmp_path / "site", reassigned=True)
    cli("consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind", "written",
        "--granted", "2026-07-01T12:00:00Z", data_dir=root, check=True)
    decision = _check(root)
    assert decision["verdict"] == "ALLOW", decision["reason"]
    assert {"name": REASSIGNED_LIST, "version": 1} in decision["lists"]
    bare = _site(tmp_path / "bare", reassigned=False)
    cli("consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind", "written",
        "--granted", "2025-01-10T12:00:00Z", data_dir=bare, check=True)
    assert _check(bare)["verdict"] == "ALLOW"


def test_a_manual_plan_reads_the_reassigned_data():
    """The plan of a manual call names the data (the gate fetches plan.list_names only)."""
    policy = Policy(PACKS, PolicySettings())
    attempt = CallAttempt(PARSER.parse(NUMBER), UT_CAMPAIGN, DialingMode.MANUAL,
                          datetime.fromisoformat(AT))
    assert REASSIGNED_LIST in policy.plan(attempt).list_names
