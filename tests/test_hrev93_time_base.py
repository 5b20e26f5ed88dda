"""Guards on hsto22's time base (hrev93): the national copy keeps the called party's
date; a listed Floridian is never ALLOWed across Florida's midnight.

hsto22 judged a copy of a state's own list (fl-state, ok-state) on its state's date. The
national registry is no state's list: 47 CFR 64.1200(c)(2)(i)(D) (a copy at most 31 days
old) keeps the date of the call, the called party's. A Honolulu number at 19:30 HST on
31 December (00:30 Eastern, 1 January) with a copy whose last day is 31 December is ALLOWed;
the same copy one day older BLOCKs it. Were the national copy judged on Florida's (or any
state's) date, the first would BLOCK. Real gate, real list versions on disk.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy.outcome import Status
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

HONOLULU = "8085550143"  # on no list
AT = datetime.fromisoformat("2026-12-31T19:30:00-10:00")  # 00:30 on 1 January in Florida
LAST_DAY_31_DEC = date(2026, 12, 31) - timedelta(days=31)


@pytest.mark.parametrize(("national_published", "allowed"), [
    (LAST_DAY_31_DEC, True), (LAST_DAY_31_DEC - timedelta(days=1), False)])
async def test_national_copy_judged_on_the_called_party_date(tmp_path, national_published,
                                                             allowed):
    other = tmp_path / "other.txt"
    other.write_text("8015550199\n")
    published = {"national": national_published, "fl-state": date(2027, 1, 1),
                 "ut-state": date(2026, 12, 30), "ok-state": date(2026, 12, 30)}
    for name, day in published.items():
        write_version(tmp_path, name, parse_list_file(other), published=day,
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    rt = open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))
    try:
        decision = await rt.gate.check(CheckRequest(HONOLULU, "ut-solar-manual", at=AT,
                                                    front="test"))
    finally:
        await rt.aclose()
    assert decision.allowed is allowed, decision.verdict.reason
    if not allowed:
        assert decision.verdict.deciding.rule_id == "us-federal:64.1200(c)(2)(i)(D)"


LISTED = {"New York": "2125550188", "Dallas": "2145550188", "Los Angeles": "2135550188",
          "Honolulu": "8085550188", "Miami": "3055550188"}  # Floridians, on both listings


@pytest.mark.parametrize("fl_published", [date(2026, 10, 1), date(2027, 1, 1)])
async def test_a_listed_floridian_is_never_allowed_across_florida_midnight(tmp_path,
                                                                         fl_published):
    """hsto22 moved the day a Florida listing is judged on from the called party's date to
    Florida's: every 30 minutes from 20:00 UTC on 31 December to 12:00 UTC on 1 January, a
    number on the loaded listing (whatever its zone) is BLOCKed by us-fl:501.059(4)."""
    base = tmp_path / "base.txt"
    base.write_text("8015550199\n")
    florida = tmp_path / "fl.txt"
    florida.write_text("".join(f"{n}\n" for n in LISTED.values()))
    for name in ("national", "ut-state", "ok-state"):
        write_version(tmp_path, name, parse_list_file(base), published=date(2026, 12, 30),
                      area_codes=None, source="test")
    write_version(tmp_path, "fl-state", parse_list_file(florida), published=fl_published,
                  area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    rt = open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))
    wrong = []
    try:
        at = datetime.fromisoformat("2026-12-31T20:00:00+00:00")
        while at <= datetime.fromisoformat("2027-01-01T12:00:00+00:00"):
            for city, number in LISTED.items():
                decision = await rt.gate.check(CheckRequest(number, "ut-solar-manual",
                                                            at=at, front="test"))
                florida = [o for o in decision.verdict.outcomes
                           if o.rule_id.startswith("us-fl:501.059(4)")
                           and o.status is Status.BLOCK]
                if decision.allowed or not florida:
                    wrong.append(f"{at:%m-%d %H:%M}Z {city}: {decision.verdict.reason}")
            at += timedelta(minutes=30)
    finally:
        await rt.aclose()
    assert not wrong, "\n".join(wrong)
