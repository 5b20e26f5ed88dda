"""Alaska's numbers are judged in Alaska's clocks, not Hawaii's.

phonenumbers 9.0.43 places exchange 907-581 (Unalaska) in Pacific/Honolulu, and callguard
judges every 907 number in every zone of its area code. No part of Alaska keeps Hawaii's
clock: 49 CFR 71.11 puts the entire State in the Alaska zone except, 71.12, the Aleutian
Islands west of 169 degrees 30 minutes W, which are in the Hawaii-Aleutian zone; and
Alaska, unlike Hawaii, has not exempted itself from daylight saving time (15 U.S.C.
260a(a)), so that part is tzdata's America/Adak (HST/HDT), already among 907's zones.
Pacific/Honolulu only moved the summer morning: 8:00 a.m. in Honolulu is 10:00 a.m.
AKDT, so every call to Alaska before 10 a.m. from March to November was BLOCKed, an hour
after the Aleutians' own 8 a.m. (9:00 AKDT). Winter is unchanged (Adak = Honolulu).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callguard.numbers.nanp import area_code_zones
from callguard.policy import Status
from tests.conftest import NY_CAMPAIGN, PARSER, decide

HOURS = "us-federal:64.1200(c)(1)"
ANCHORAGE = ZoneInfo("America/Anchorage")


def _hours(number: str, at: datetime) -> Status:
    verdict = decide(number, at.isoformat(), campaign=NY_CAMPAIGN)
    (outcome,) = [o for o in verdict.outcomes if o.rule_id == HOURS]
    return outcome.status


def test_907_zones_are_alaska_clocks() -> None:
    assert set(area_code_zones(907)) == {"America/Adak", "America/Anchorage",
                                         "America/Juneau"}
    assert set(PARSER.parse("9075811234").zones) == set(area_code_zones(907))


def test_summer_morning_follows_the_aleutians_not_hawaii() -> None:
    """9:00 AKDT on a July Wednesday is 8:00 HDT on Adak (callable) and 7:00 in Honolulu."""
    assert _hours("9075811234", datetime(2026, 7, 22, 9, 0, tzinfo=ANCHORAGE)) is Status.PASS
    assert _hours("9072221234", datetime(2026, 7, 22, 9, 0, tzinfo=ANCHORAGE)) is Status.PASS
    # still BLOCKed before the Aleutians' 8 a.m.
    assert _hours("9075811234", datetime(2026, 7, 22, 8, 59, tzinfo=ANCHORAGE)) is Status.BLOCK


def test_winter_is_unchanged() -> None:
    """In January Adak and Honolulu are both UTC-10: 9:00 AKST is 8:00 there."""
    assert _hours("9075811234", datetime(2027, 1, 20, 9, 0, tzinfo=ANCHORAGE)) is Status.PASS
    assert _hours("9075811234", datetime(2027, 1, 20, 8, 59, tzinfo=ANCHORAGE)) is Status.BLOCK
    # the evening is Anchorage's (the earliest-ending zones are Alaska's own)
    assert _hours("9075811234", datetime(2027, 1, 20, 21, 0, 1, tzinfo=ANCHORAGE)) \
        is Status.BLOCK
