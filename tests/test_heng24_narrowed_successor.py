"""heng24: a successor pack that narrows (or widens) its scope says alone whether the law applies.

hrev110 counted a date outside a pack as encoded only when a statute pack of its
succession in force that day held the call in its scope. A successor that narrows the
scope (the state amended its law to drop an area code, a category of numbers) then left
every call only the old scope covered BLOCKed ``callguard:no-pack`` after the change: the
gate refused calls no law in force covers any more. Now a date is encoded by a statute
pack of the succession in force that day OF THE SAME STATE (its scope's state, or its
origin states when it has none): it judges the call by its own rules when its scope holds
it, and says the state's law does not reach the call when it does not. A gap, a pack with
no successor, a house policy or another state's pack in ``succeeds`` stay refused
(hrev110). Candidate zones straddling the change are judged by each date's text, every
rule standing (a BLOCK of the old text on the earlier date is not lost).

Synthetic packs built on the shipped us-fl and us-federal packs (written in memory, the
shipped files untouched); synthetic instants.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any

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
    Verdict,
)
from callguard.policy.frequency import Ledger
from callguard.policy.packs import Pack, pack_from_mapping
from callguard.policy.rules.frequency import read_claims, reserved_claims
from tests.conftest import PACKS_DIR

REGIONS = frozenset({"US", "GU"})
PARSER = NumberParser(regions=REGIONS)
CAMPAIGN = Campaign(id="heng24", solicitor="heng24 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
CHANGE = date(2027, 1, 1)
# 10:00 EST in Miami, after the change
AFTER = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
# 10:00 EST in Miami, before it
BEFORE = datetime(2026, 12, 15, 15, 0, tzinfo=UTC)
# 19:00 EST on 2026-12-31 in Miami, 10:00 on 2027-01-01 in Guam (CRM location)
STRADDLE = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
DROPPED = "3052345678"  # area code 305: only the old scope holds it
KEPT = "7862345678"  # area code 786: both scopes hold it
HOURS = "501.616(6)(a)"


def _fl(pack_id: str = "us-fl", *, drop: int | None = None, add: int | None = None,
        latest: str | None = None, **head: Any) -> Pack:
    """us-fl as ``pack_id``, its [pack] table updated by ``head``, area code ``drop``
    taken out of its scope (and ``add`` put in), its hours ending at ``latest``."""
    text = (PACKS_DIR / "us-fl.toml").read_text()
    if pack_id != "us-fl":
        text = text.replace("us-fl:", f"{pack_id}:")
    raw = tomllib.loads(text)
    raw["pack"].update(id=pack_id, **head)
    codes = raw["scope"]["called_party_area_codes"]
    if drop is not None:
        codes.remove(drop)
    if add is not None:
        codes.append(add)
    if latest is not None:
        hours = [r for r in raw["rules"] if r["id"] == f"{pack_id}:{HOURS}"]
        assert len(hours) == 1
        hours[0]["latest"] = latest
    return pack_from_mapping(raw, origin=f"{pack_id}.toml")


def _old(**kw: Any) -> Pack:
    return _fl(effective_until=CHANGE, **kw)


def _new(*, starts: date = CHANGE, **kw: Any) -> Pack:
    return _fl("us-fl-2027", effective_from=starts, succeeds="us-fl", version="2027.1.0",
               **kw)


def _policy(*packs: Pack) -> Policy:
    text = (PACKS_DIR / "us-federal.toml").read_text()
    federal = pack_from_mapping(tomllib.loads(text), origin="us-federal.toml")
    return Policy({p.id: p for p in (federal, *packs)}, PolicySettings())


def _decide(policy: Policy, at: datetime, number: str = DROPPED,
            location: str | None = None) -> Verdict:
    where = parse_location(location, regions=REGIONS) if location else None
    attempt = CallAttempt(PARSER.parse(number), CAMPAIGN, DialingMode.MANUAL, at, where)
    plan = policy.plan(attempt)
    published = (at - timedelta(days=10)).date()  # well within every age limit
    lists = {n: ListCheck(n, 1, published, False, True) for n in plan.list_names}
    counts = Ledger().judge(attempt.number.e164,
                            reserved_claims(plan.rules, plan.caps, attempt),
                            read_claims(plan.rules, attempt), at)
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind),
                                        values={FactKind.FREQUENCY: counts}))
    assert isinstance(verdict, Verdict)
    return verdict


def _applied(verdict: Verdict) -> set[str]:
    return {p.pack_id for p in verdict.packs if p.applies}


def _no_pack(verdict: Verdict, pack: str = "us-fl") -> None:
    assert not verdict.allowed, verdict.reason
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "callguard:no-pack", verdict.reason
    assert f"scope of {pack} (in force from" in verdict.deciding.reason, verdict.reason


def test_a_call_only_the_old_scope_held_is_judged_by_the_law_in_force():
    """BLOCKed callguard:no-pack on main: the successor in force no longer reaches 305,
    so no Florida law applies to the call and federal law alone judges it."""
    verdict = _decide(_policy(_old(), _new(drop=305)), AFTER)
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-federal"}
    assert any(p.pack_id == "us-fl-2027" and "not in FL" in p.why for p in verdict.packs)


def test_the_narrowed_successor_judges_what_it_still_holds():
    """786 is in both scopes: the successor's own rules judge it (its hours end at 09:00
    here, so 10:00 breaks them)."""
    policy = _policy(_old(), _new(drop=305, latest="09:00"))
    verdict = _decide(policy, AFTER, KEPT)
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == f"us-fl-2027:{HOURS}", verdict.reason
    # ... and the call it no longer holds is not judged by those hours
    assert _decide(policy, AFTER).allowed


def test_before_the_change_the_old_scope_still_judges():
    verdict = _decide(_policy(_old(latest="09:00"), _new(drop=305)), BEFORE)
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == f"us-fl:{HOURS}", verdict.reason


def test_a_widened_successor_does_not_reach_back():
    """The old text did not hold 305, the new one does: before the change Florida's law
    (the old text, in force) did not reach the call. BLOCKed callguard:no-pack on main
    (us-fl-2027 'not in force' with nothing holding the call to continue it)."""
    policy = _policy(_old(drop=305), _new(latest="09:00"))
    verdict = _decide(policy, BEFORE)
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-federal"}
    after = _decide(policy, AFTER)
    assert after.deciding is not None
    assert after.deciding.rule_id == f"us-fl-2027:{HOURS}", after.reason


def test_a_gap_before_the_narrowed_successor_stays_refused():
    """Neither text in force on 2027-01-15: Florida's law that day is not encoded."""
    policy = _policy(_old(), _new(drop=305, starts=date(2027, 2, 1)))
    _no_pack(_decide(policy, AFTER))
    _no_pack(_decide(policy, AFTER, KEPT))
    assert _decide(policy, datetime(2027, 2, 15, 15, 0, tzinfo=UTC)).allowed


def test_an_expired_pack_with_no_successor_stays_refused():
    _no_pack(_decide(_policy(_old()), AFTER))


def test_another_states_narrow_pack_does_not_end_florida_law():
    """A Maryland pack (wrongly) naming us-fl in ``succeeds`` holds no Florida call: that
    says nothing of Florida's law (hrev110)."""
    text = (PACKS_DIR / "us-md.toml").read_text()
    raw = tomllib.loads(text)
    raw["pack"]["succeeds"] = "us-fl"
    md = pack_from_mapping(raw, origin="us-md.toml")
    _no_pack(_decide(_policy(_old(), md), AFTER))


def test_a_house_policy_does_not_end_florida_law():
    text = (PACKS_DIR / "house-litigators.toml").read_text()
    raw = tomllib.loads(text)
    raw["pack"]["succeeds"] = "us-fl"
    house = pack_from_mapping(raw, origin="house-litigators.toml")
    _no_pack(_decide(_policy(_old(), house), AFTER))


def test_zones_straddling_the_change_keep_the_old_texts_block():
    """Miami 19:00 on 2026-12-31 (the old text, its hours ending here at 18:00), Guam
    10:00 on 2027-01-01 (the narrowed text, not holding 305). BLOCKed no-pack on main;
    now the old text judges its date and its BLOCK stands."""
    policy = _policy(_old(latest="18:00"), _new(drop=305))
    verdict = _decide(policy, STRADDLE, location="96910")
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == f"us-fl:{HOURS}", verdict.reason
    # with the old hours as shipped (until 20:00) nothing blocks: both dates' law judged
    relaxed = _decide(_policy(_old(), _new(drop=305)), STRADDLE, location="96910")
    assert relaxed.allowed, relaxed.reason
    assert "us-fl" in _applied(relaxed)


def test_zones_straddling_a_gap_stay_refused():
    """Miami on 2026-12-31 (old text), Guam on 2027-01-01, no text yet (successor from
    2027-02-01): the later date's Florida law is not encoded."""
    policy = _policy(_old(), _new(drop=305, starts=date(2027, 2, 1)))
    _no_pack(_decide(policy, STRADDLE, location="96910"))
