"""hrev105: a call-frequency cap with two parameter versions in one decision (htz23).

Candidate zones on two local dates (a Florida number, a Guam CRM location, 19:00 ET on
2026-12-31 = 10:00 on 2027-01-01 in Guam) with a cap amended between them judge both
versions. Both claim under the same rule id and subject (the stores count one row per
subject: the call is counted once), but each version read its count as the FIRST claim
of its id (``FrequencyResult.count_for``): the amended 72-hour version was judged on the
24-hour count. Read only (a scrub), it PASSed three calls in 72 hours; reserving, the
store refused the 72-hour claim and the 24-hour version reported it ("0 call(s) ...
at most 3 call(s) in 24 hours"). The amendment is an example (no shipped pack amends a
cap); synthetic instants and history.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta

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
    Status,
    Verdict,
)
from callguard.policy.frequency import judge_claims
from callguard.policy.packs import pack_from_mapping
from tests.conftest import PACKS, PACKS_DIR

REGIONS = frozenset({"US", "GU"})
PARSER = NumberParser(regions=REGIONS)
CAMPAIGN = Campaign(id="hrev105", solicitor="hrev105 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
CAP = "us-fl:501.616(6)(b)"
AT = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # 19:00 ET 2026-12-31, 10:00 Guam 2027-01-01


def _policy() -> Policy:
    document = tomllib.loads((PACKS_DIR / "us-fl.toml").read_text())
    for entry in document["rules"]:
        if entry["id"] == CAP:
            entry["amendments"] = [{"effective_from": date(2027, 1, 1), "window_hours": 72,
                                    "citation": entry["citation"] + " (as amended)",
                                    "source": "an example amendment (hrev105 test)"}]
    fl = pack_from_mapping(document, origin="us-fl.toml")
    return Policy({"us-federal": PACKS["us-federal"], "us-fl": fl}, PolicySettings())


@pytest.mark.parametrize("front", ["scrub", "fastagi"])
def test_each_cap_version_is_judged_on_its_own_window(front):
    policy = _policy()
    attempt = CallAttempt(PARSER.parse("3052345678"), CAMPAIGN, DialingMode.MANUAL, AT,
                          parse_location("96910", regions=REGIONS), front=front)
    plan = policy.plan(attempt)
    assert plan.versions_merged
    claims = plan.reserved if front == "fastagi" else plan.read
    assert {c.window_s for c in claims if c.rule_id == CAP} == {24 * 3600, 72 * 3600}
    # three calls of the seller 30, 40 and 50 hours ago: none in 24 hours, three in 72
    history = [(f"seller:{CAMPAIGN.solicitor}", AT - timedelta(hours=h)) for h in (30, 40, 50)]
    lists = {n: ListCheck(n, 1, date(2026, 12, 20), False, True) for n in plan.list_names}
    facts = Facts(lists=lists, fetched=frozenset(FactKind),
                  values={FactKind.FREQUENCY: judge_claims(claims, history, AT)})
    verdict = policy.decide(plan, facts)
    assert isinstance(verdict, Verdict)
    assert not verdict.allowed, verdict.reason
    (cap,) = [o for o in verdict.outcomes if o.rule_id == CAP]
    assert cap.status is Status.BLOCK
    assert cap.params == "2027-01-01"
    assert "3 call(s)" in cap.reason
    assert "72 hours" in cap.reason
