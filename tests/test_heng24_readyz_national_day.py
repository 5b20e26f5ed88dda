"""heng24: /readyz judges the national copy's age on the date the gate judges calls on.

The gate judges the national list's age on the called party's date (``Context.copy_day``).
/readyz judged it on UTC's date, which is no called party's: at a site calling Guam,
Saipan and American Samoa it said ready from 14:00 UTC on the copy's last usable day
while every call to Guam or Saipan (UTC+10, the next day already) was BLOCKed for the
copy's age; at a site calling the US only it said not ready from 00:00 UTC (19:00 Eastern)
while every call the site could place passed until Eastern's midnight. No one date is
every zone's, so readiness is judged on the latest a called party can have: never ready
while some call is refused for the copy's age, never not-ready while none is.

Swept hour by hour (synthetic clock) over the last usable day and the day after, against
the gate's own verdict (``Policy.decide`` on us-federal, the shipped pack) for numbers in
the zones farthest east and west the site calls. Real list files in tmp (EmbeddedListRegistry).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.fronts.http.readiness import Readiness, freshness_days, judged_day
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
from callguard.policy.outcome import Status
from callguard.policy.rules.frequency import read_claims, reserved_claims
from callguard.stores.embedded.lists import EmbeddedListRegistry, write_version
from callguard.stores.list_files import parse_list_file
from tests.conftest import PACKS

PUBLISHED = date(2027, 3, 1)
LAST_USABLE = PUBLISHED + timedelta(days=31)  # 47 CFR 64.1200(c)(2)(i)(D)
AGE_RULE = "us-federal:64.1200(c)(2)(i)(D)"
FEDERAL = {"us-federal": PACKS["us-federal"]}
CAMPAIGN = Campaign(id="heng24", solicitor="heng24 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
# the site's regions -> numbers in the zones farthest east and west it calls
SITES = {
    "us": (frozenset({"US"}),
           ("2125550100", "2135550100", "8085550100", "9075550100")),
    "pacific": (frozenset({"US", "GU", "MP", "AS"}),
                ("6714720100", "6702340100", "6846330100", "8085550100", "2125550100")),
}


def _sweep() -> list[datetime]:
    start = datetime.combine(LAST_USABLE, datetime.min.time(), UTC) - timedelta(hours=12)
    return [start + timedelta(minutes=30 * i) for i in range(2 * 72)]


def _age_blocked(policy: Policy, parser: NumberParser, number: str, at: datetime) -> bool:
    attempt = CallAttempt(parser.parse(number), CAMPAIGN, DialingMode.MANUAL, at)
    plan = policy.plan(attempt)
    lists = {n: ListCheck(n, 1, PUBLISHED, False, True) for n in plan.list_names}
    counts = Ledger().judge(attempt.number.e164,
                            reserved_claims(plan.rules, plan.caps, attempt),
                            read_claims(plan.rules, attempt), at)
    verdict = policy.decide(plan, Facts(lists=lists, fetched=frozenset(FactKind),
                                        values={FactKind.FREQUENCY: counts}))
    assert isinstance(verdict, Verdict)
    [age] = [o for o in verdict.outcomes if o.rule_id == AGE_RULE]
    return age.status is Status.BLOCK


def _registry(tmp_path) -> EmbeddedListRegistry:
    path = tmp_path / "national.txt"
    path.write_text("2125550199\n")
    write_version(tmp_path, "national", parse_list_file(path), published=PUBLISHED,
                  area_codes=None, source=path.name)
    return EmbeddedListRegistry(tmp_path)


@pytest.mark.parametrize("site", sorted(SITES))
def test_readyz_says_ready_exactly_while_no_call_is_refused_for_the_copys_age(
        tmp_path, site):
    """On main: at the pacific site, ready at 14:00-23:30 UTC on 2027-04-01 while Guam's
    and Saipan's calls were BLOCKed by the copy's age; at the US site, not ready at
    00:00-03:30 UTC on 2027-04-02 while no call was."""
    regions, numbers = SITES[site]
    parser = NumberParser(regions=regions)
    policy = Policy(FEDERAL, PolicySettings())
    registry = _registry(tmp_path)
    wrong = []
    for at in _sweep():
        readiness = Readiness(packs=FEDERAL, lists=registry, records=None, pings={},
                              clock_check=lambda: (True, "test"), clock=lambda at=at: at,
                              regions=regions)
        [check] = [c for c in readiness._list_checks() if c.name == "list:national"]
        refused = [n[:3] for n in numbers if _age_blocked(policy, parser, n, at)]
        if check.ok == bool(refused):
            wrong.append(f"{at:%m-%d %H:%M} ready={check.ok} refused={refused}")
    assert not wrong, wrong
    # the sweep crosses both edges: some instants ready, some not
    first = Readiness(packs=FEDERAL, lists=registry, records=None, pings={},
                      clock_check=lambda: (True, "test"), clock=lambda: _sweep()[0],
                      regions=regions)
    assert all(c.ok for c in first._list_checks())


def test_guam_turns_the_copy_stale_at_its_midnight():
    """The day a copy is judged on at a Pacific site: Guam's (UTC+10) from 14:00 UTC."""
    pacific = freshness_days(FEDERAL, SITES["pacific"][0])
    [(_, zones)] = [(r, z) for r, z in pacific if r.list_name == "national"]
    assert judged_day(datetime(2027, 4, 1, 13, 59, tzinfo=UTC), zones) == LAST_USABLE
    assert judged_day(datetime(2027, 4, 1, 14, 0, tzinfo=UTC), zones) > LAST_USABLE
    # a US site: Eastern's (EDT, UTC-4), not UTC's
    us = freshness_days(FEDERAL, SITES["us"][0])
    [(_, zones)] = [(r, z) for r, z in us if r.list_name == "national"]
    assert judged_day(datetime(2027, 4, 2, 3, 59, tzinfo=UTC), zones) == LAST_USABLE
    assert judged_day(datetime(2027, 4, 2, 4, 0, tzinfo=UTC), zones) > LAST_USABLE


def test_utc_counts_when_a_call_of_no_zone_is_not_blocked_by_hours():
    """A pack of no state without a calling-hours rule for the freshness rule's modes: a
    call of no known zone is judged on UTC's date, so UTC's date stays among the zones."""
    [(rule, zones)] = [(r, z) for r, z in freshness_days(FEDERAL) if r.list_name == "national"]
    assert "Etc/UTC" not in zones
    federal = PACKS["us-federal"]
    bare = {"bare": type(federal)(
        **{f: getattr(federal, f) for f in federal.__dataclass_fields__}
        | {"id": "bare", "rules": (rule,), "versioned": ()})}
    [(_, zones)] = freshness_days(bare)
    assert "Etc/UTC" in zones
