"""A number on Florida's own do-not-call listing is a called party in Florida whatever its
area code (lead, from hacc16's finding; us-fl 2026.12.16 ``called_party_listed_on``).

Fla. Stat. 501.059(4) reaches "any residential, mobile, or telephonic paging device
telephone number if the number for that telephone appears in the then-current quarterly
listing": the listing holds Floridians' numbers, out-of-state mobiles included. Before, the
pack applied by area code or the CRM's location only, so the gate never read the listing
for a New York number and ALLOWed the call. Here the real gate, a real listing on disk.
"""

from __future__ import annotations

from datetime import date

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

AT = "2026-07-22T11:00:00-04:00"  # a Wednesday, 11:00 in New York, inside every window


@pytest.fixture
async def runtime(tmp_path):
    other, florida = tmp_path / "other.txt", tmp_path / "florida.txt"
    other.write_text("8015550199\n")  # another number
    florida.write_text("2125550143\n")
    for name in ("national", "ut-state", "ok-state"):
        write_version(tmp_path, name, parse_list_file(other), published=date(2026, 7, 20),
                      area_codes=None, source="test")
    write_version(tmp_path, "fl-state", parse_list_file(florida), published=date(2026, 7, 1),
                  area_codes=None, source="test")
    rt = open_runtime(load_settings(data_dir=tmp_path))
    yield rt
    await rt.aclose()


async def _check(rt, number: str):
    from datetime import datetime
    return await rt.gate.check(CheckRequest(number, "ut-solar-manual",
                                            at=datetime.fromisoformat(AT), front="test"))


async def test_a_new_york_number_on_the_florida_listing_is_blocked_under_501_059_4(runtime):
    decision = await _check(runtime, "2125550143")
    assert not decision.allowed
    assert decision.verdict.deciding is not None
    assert decision.verdict.deciding.rule_id == "us-fl:501.059(4)"
    applied = {p.pack_id: p for p in decision.verdict.packs}
    assert applied["us-fl"].applies
    assert "fl-state" in applied["us-fl"].why


async def test_a_new_york_number_not_on_it_is_not_judged_by_florida(runtime):
    decision = await _check(runtime, "2125550144")
    assert decision.allowed, decision.verdict.reason
    assert not {p.pack_id: p for p in decision.verdict.packs}["us-fl"].applies
