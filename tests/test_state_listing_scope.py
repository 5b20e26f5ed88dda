"""A number on Florida's own do-not-call listing is a called party in Florida whatever its
area code (lead, from hacc16's finding; us-fl 2026.12.16 ``called_party_listed_on``).

Fla. Stat. 501.059(4) reaches "any residential, mobile, or telephonic paging device
telephone number if the number for that telephone appears in the then-current quarterly
listing": the listing holds Floridians' numbers, out-of-state mobiles included. Before, the
pack applied by area code or the CRM's location only, so the gate never read the listing
for a New York number and ALLOWed the call. Here the real gate, a real listing on disk.
"""

from __future__ import annotations

import dataclasses
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


# (hrev33) A site that calls Florida (``fl-state`` not in ``[lists] not_loaded``) whose
# listing has no version here cannot tell a Floridian's New York mobile from anyone else's:
# the pack applies and its listing rule BLOCKs naming the missing list (fail closed), as it
# does every Florida-area-code call. Before, the lookup found nothing and the call ALLOWed.
# A site that names the list in ``not_loaded`` said it does not load it: not widened.
@pytest.fixture
async def unloaded(tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("8015550199\n")
    for name in ("national", "ut-state", "ok-state"):
        write_version(tmp_path, name, parse_list_file(other), published=date(2026, 7, 20),
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    assert "fl-state" in settings.lists_not_loaded  # the shipped configuration
    runtimes = {}
    for key, not_loaded in (("expected", settings.lists_not_loaded - {"fl-state"}),
                            ("on purpose", settings.lists_not_loaded)):
        runtimes[key] = open_runtime(dataclasses.replace(settings, lists_not_loaded=not_loaded))
    yield runtimes
    for rt in runtimes.values():
        await rt.aclose()


async def test_an_expected_florida_listing_not_loaded_blocks_a_new_york_number(unloaded):
    decision = await _check(unloaded["expected"], "2125550143")
    assert not decision.allowed
    assert decision.verdict.deciding is not None
    assert decision.verdict.deciding.rule_id == "us-fl:501.059(4):freshness"
    assert "not loaded" in decision.verdict.reason
    us_fl = {p.pack_id: p for p in decision.verdict.packs}["us-fl"]
    assert us_fl.applies
    assert "fl-state" in us_fl.why
    assert "not loaded" in us_fl.why


async def test_a_florida_listing_not_loaded_on_purpose_does_not_widen_the_scope(unloaded):
    decision = await _check(unloaded["on purpose"], "2125550143")
    assert decision.allowed, decision.verdict.reason
    assert not {p.pack_id: p for p in decision.verdict.packs}["us-fl"].applies


# (hrev34) The pack's scope reason ("called party possibly in FL") is on the verdict alone:
# the compliance record, the scrub file and ``explain`` carry the deciding rule's reason,
# which said only "list 'fl-state' is not loaded" — not why a New York number met a Florida
# rule. The reason now says it; a list not loaded on purpose keeps the short reason.
async def test_the_reason_says_why_a_new_york_number_met_the_florida_rule(unloaded):
    decision = await _check(unloaded["expected"], "2125550143")
    assert "whatever the area code" in decision.verdict.reason
    assert "[lists] not_loaded" in decision.verdict.reason
    florida = await _check(unloaded["on purpose"], "3055550143")
    assert not florida.allowed
    assert florida.verdict.deciding is not None
    assert florida.verdict.deciding.rule_id == "us-fl:501.059(4):freshness"
    assert "list 'fl-state' is not loaded (Fla." in florida.verdict.reason
