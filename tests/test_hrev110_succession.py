"""hrev110: review of hrev105's succession (2eb1126), for the called party.

hrev105 counts a date as encoded when any pack linked to the ended one by ``succeeds``
(either way, followed through) is in force on it. It asked of that pack nothing else:
not that it is a statute pack, not that its scope holds the call. So a house policy
naming an ended statute pack in ``succeeds``, or a statute pack of another state doing
so, vouched for the ended pack's days: the call was judged by the other packs alone
(here us-federal) and ALLOWed although no pack encoding the ended state's law judged it.
Now a date is encoded only by a statute pack of the succession in force on it whose scope
holds the call (whose rules are then judged). Gaps, cycles and a later pack meeting an
earlier date stay refused. Synthetic packs built on the shipped us-fl, us-md,
house-litigators and us-federal packs; synthetic instants.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from typing import Any

from callguard.numbers import NumberParser
from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    Policy,
    PolicySettings,
    Verdict,
)
from callguard.policy.frequency import Ledger
from callguard.policy.packs import Pack, pack_from_mapping
from callguard.policy.rules.frequency import read_claims, reserved_claims
from tests.conftest import PACKS_DIR

REGIONS = frozenset({"US"})
PARSER = NumberParser(regions=REGIONS)
CAMPAIGN = Campaign(id="hrev110", solicitor="hrev110 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
# 10:00 EST in Miami
MID_JANUARY = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)


def _load(name: str, *, rename: str | None = None, **head: Any) -> Pack:
    text = (PACKS_DIR / f"{name}.toml").read_text()
    if rename is not None:
        text = text.replace(f"{name}:", f"{rename}:")
    raw = tomllib.loads(text)
    raw["pack"].update(head)
    if rename is not None:
        raw["pack"]["id"] = rename
    return pack_from_mapping(raw, origin=f"{rename or name}.toml")


def _policy(*extra: Pack, fl: Pack | None = None) -> Policy:
    packs = [_load("us-federal"),
             fl or _load("us-fl", effective_until=date(2027, 1, 1)), *extra]
    return Policy({p.id: p for p in packs}, PolicySettings())


def _decide(policy: Policy, at: datetime = MID_JANUARY) -> Verdict:
    attempt = CallAttempt(PARSER.parse("3052345678"), CAMPAIGN, DialingMode.MANUAL, at)
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, at.date().replace(day=1), False, True)
             for n in plan.list_names}
    counts = Ledger().judge(attempt.number.e164, reserved_claims(plan.rules, plan.caps, attempt),
                            read_claims(plan.rules, attempt), at)
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind),
                                        values={FactKind.FREQUENCY: counts}))
    assert isinstance(verdict, Verdict)
    return verdict


def _refused(verdict: Verdict) -> None:
    assert not verdict.allowed, verdict.reason
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "callguard:no-pack", verdict.reason
    assert "us-fl (in force from 2023-07-01 until 2027-01-01)" in verdict.deciding.reason


def test_a_house_policy_does_not_continue_a_statute():
    """ALLOWed before (us-federal alone judged a Florida call after us-fl ended)."""
    _refused(_decide(_policy(_load("house-litigators", succeeds="us-fl"))))


def test_a_pack_of_another_state_does_not_continue_florida_law():
    """ALLOWed before: us-md (in force, scope Maryland) named as us-fl's successor."""
    _refused(_decide(_policy(_load("us-md", succeeds="us-fl"))))


def test_a_sibling_of_another_state_does_not_fill_the_gap():
    """us-fl-2027 begins a month after us-fl ends; us-md also (wrongly) succeeds us-fl.
    Followed either way, us-md is in us-fl-2027's succession too: ALLOWed before."""
    successor = _load("us-fl", rename="us-fl-2027", effective_from=date(2027, 2, 1),
                      succeeds="us-fl", version="2027.1.0")
    _refused(_decide(_policy(successor, _load("us-md", succeeds="us-fl"))))


def test_a_gap_between_a_pack_and_its_successor_is_refused():
    successor = _load("us-fl", rename="us-fl-2027", effective_from=date(2027, 2, 1),
                      succeeds="us-fl", version="2027.1.0")
    _refused(_decide(_policy(successor)))
    assert _decide(_policy(successor), datetime(2027, 2, 15, 15, 0, tzinfo=UTC)).allowed


def test_a_cycle_in_succeeds_encodes_no_gap():
    successor = _load("us-fl", rename="us-fl-2027", effective_from=date(2027, 2, 1),
                      succeeds="us-fl", version="2027.1.0")
    fl = _load("us-fl", effective_until=date(2027, 1, 1), succeeds="us-fl-2027")
    _refused(_decide(_policy(successor, fl=fl)))


def test_a_later_pack_does_not_vouch_for_an_earlier_date():
    """Before us-fl begins (2023-07-01) its successor, in force from 2027, covers nothing."""
    successor = _load("us-fl", rename="us-fl-2027", effective_from=date(2027, 1, 1),
                      succeeds="us-fl", version="2027.1.0")
    verdict = _decide(_policy(successor), datetime(2023, 3, 15, 15, 0, tzinfo=UTC))
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "callguard:no-pack"


def test_the_successor_in_force_judges_the_call():
    """The date is not merely counted as encoded: the successor's own rules judge it
    (its 501.616(6)(a) hours, moved here to end at 09:00 so a 10:00 call breaks them)."""
    successor = _load("us-fl", rename="us-fl-2027", effective_from=date(2027, 1, 1),
                      succeeds="us-fl", version="2027.1.0")
    assert _decide(_policy(successor)).allowed
    raw = tomllib.loads((PACKS_DIR / "us-fl.toml").read_text().replace("us-fl:", "us-fl-2027:"))
    raw["pack"].update(id="us-fl-2027", version="2027.1.0", effective_from=date(2027, 1, 1),
                       succeeds="us-fl")
    hours = [r for r in raw["rules"] if r["id"] == "us-fl-2027:501.616(6)(a)"]
    assert len(hours) == 1
    hours[0]["latest"] = "09:00"
    verdict = _decide(_policy(pack_from_mapping(raw, origin="us-fl-2027.toml")))
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "us-fl-2027:501.616(6)(a)", verdict.reason
