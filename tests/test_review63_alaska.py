"""Guard (review hrev63): no 907 call passes calling hours outside 8 a.m.-9 p.m. in any
clock an Alaskan keeps.

tzdata's Alaska zones: Anchorage, Juneau, Sitka, Yakutat, Nome, Metlakatla (Alaska time
with DST, 49 CFR 71.11; Metlakatla kept PST without DST until 2015-11-01 and again from
2018-11-04 to 2019-01-20, before any pack here is in force) and Adak (the Aleutians west
of 169 30' W, Hawaii-Aleutian with DST, 71.12; 15 U.S.C. 260a(a)). callguard lists three
of them for 907 (ZONE_CORRECTIONS); the other four have kept Anchorage's offset since
2019-01-20. Every day of 2026-2027, the minutes either side of each zone's 8 a.m. and
9 p.m. in UTC: a PASS of 64.1200(c)(1) must be inside the window in all seven. Passes on
hclk19's table; fails with America/Adak taken out (winter 8:00 AKST is 7:00 on Adak) or
with a tzdata that moved Metlakatla off Anchorage's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callguard.policy import Status
from tests.conftest import NY_CAMPAIGN, decide

HOURS = "us-federal:64.1200(c)(1)"
ALASKA = tuple(ZoneInfo(f"America/{name}") for name in (
    "Anchorage", "Juneau", "Sitka", "Yakutat", "Nome", "Metlakatla", "Adak"))
EDGES = sorted({m for h in (16, 17, 18, 4, 5, 6) for m in (h * 60 - 1, h * 60, h * 60 + 1)})


def _inside_everywhere(at: datetime) -> bool:
    return all(time(8) <= at.astimezone(zone).time() <= time(21) for zone in ALASKA)


def test_no_907_call_passes_outside_any_alaska_clock() -> None:
    day, passed, blocked = datetime(2026, 1, 1, tzinfo=UTC), 0, 0
    while day.year < 2028:
        for minute in EDGES:
            at = day + timedelta(minutes=minute)
            verdict = decide("9075811234", at.isoformat(), campaign=NY_CAMPAIGN)
            (outcome,) = [o for o in verdict.outcomes if o.rule_id == HOURS]
            if outcome.status is Status.PASS:
                passed += 1
                assert _inside_everywhere(at), at
            else:
                blocked += 1
        day += timedelta(days=1)
    assert passed  # both sides of the edges were asked
    assert blocked
