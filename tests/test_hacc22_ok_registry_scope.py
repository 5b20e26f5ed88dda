"""A number on Oklahoma's do-not-call registry is a called party in Oklahoma whatever its
area code (hacc22; us-ok 2026.12.17 ``called_party_listed_on = "ok-state"``).

15 O.S. 775B.2(2) (read): a "consumer" is "any natural person who is a resident of this
state"; 775B.4 (read): the registry holds "the number or numbers of a consumer". An
Oklahoman's Dallas mobile on the registry is an Oklahoman's number. Before, us-ok applied by
area code or CRM location only, so the gate never read ok-state for a 214 number and
ALLOWed the call. Here the real gate and real list versions on disk.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file
from tests.test_cli import cli

AT = datetime.fromisoformat("2026-07-22T12:00:00-05:00")  # Wednesday noon in Dallas and OKC
DALLAS = "2145550143"


@pytest.fixture
async def runtimes(tmp_path):
    other, oklahoma = tmp_path / "other.txt", tmp_path / "oklahoma.txt"
    other.write_text("8015550199\n")
    oklahoma.write_text(f"{DALLAS}\n")
    for name in ("national", "ut-state", "fl-state"):
        write_version(tmp_path, name, parse_list_file(other), published=date(2026, 7, 20),
                      area_codes=None, source="test")
    loaded = tmp_path / "loaded"
    loaded.mkdir()
    for name in ("national", "ut-state", "fl-state"):
        write_version(loaded, name, parse_list_file(other), published=date(2026, 7, 20),
                      area_codes=None, source="test")
    write_version(loaded, "ok-state", parse_list_file(oklahoma), published=date(2026, 7, 1),
                  area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    assert "ok-state" in settings.lists_not_loaded  # the shipped configuration
    opened = {
        "loaded": open_runtime(dataclasses.replace(
            load_settings(data_dir=loaded), lists_not_loaded=frozenset())),
        "expected": open_runtime(dataclasses.replace(
            settings, lists_not_loaded=settings.lists_not_loaded - {"ok-state"})),
        "on purpose": open_runtime(settings),
    }
    yield opened
    for rt in opened.values():
        await rt.aclose()


async def _check(rt, number: str):
    return await rt.gate.check(CheckRequest(number, "ut-solar-manual", at=AT, front="test"))


async def test_a_dallas_number_on_the_oklahoma_registry_is_blocked_under_775b(runtimes):
    decision = await _check(runtimes["loaded"], DALLAS)
    assert not decision.allowed
    assert decision.verdict.deciding is not None
    assert decision.verdict.deciding.rule_id == "us-ok:775B"
    us_ok = {p.pack_id: p for p in decision.verdict.packs}["us-ok"]
    assert us_ok.applies
    assert "ok-state" in us_ok.why


async def test_a_dallas_number_not_on_it_is_not_judged_by_oklahoma(runtimes):
    decision = await _check(runtimes["loaded"], "2145550144")
    assert decision.allowed, decision.verdict.reason
    assert not {p.pack_id: p for p in decision.verdict.packs}["us-ok"].applies


async def test_an_expected_registry_not_loaded_blocks_a_dallas_number(runtimes):
    decision = await _check(runtimes["expected"], DALLAS)
    assert not decision.allowed
    assert decision.verdict.deciding is not None
    assert decision.verdict.deciding.rule_id == "us-ok:775B.4:freshness"


async def test_a_registry_not_loaded_on_purpose_does_not_widen_the_scope(runtimes):
    decision = await _check(runtimes["on purpose"], DALLAS)
    assert decision.allowed, decision.verdict.reason


def test_a_partial_copy_of_the_oklahoma_registry_is_refused(tmp_path):
    """A copy covering Oklahoma's area codes only would leave an Oklahoman's 214 mobile 'not
    covered', out of Oklahoma's scope, and its call ALLOWed (as fl-state, hrev34)."""
    listing = tmp_path / "ok.txt"
    listing.write_text(f"4055550101\n{DALLAS}\n")
    result = cli("dnc", "import", str(listing), "--list", "ok-state", "--published",
                 "2026-07-01", "--covers", "405,539,572,580,918", data_dir=tmp_path)
    assert result.returncode != 0
    assert "covers 'all'" in result.stderr
    assert not (tmp_path / "lists" / "ok-state").exists()
