"""``[lists] not_loaded`` is the way out of a stale state copy, as the README says (hrev90).

hrev83 made a copy of fl-state or ok-state that cannot show a number is not on it (stale,
misdated, partial) count as unread: every call comes into the state's pack and its freshness
rule BLOCKs every call it does not exempt, nationwide (fail closed, as for a list with no
version). The README named the ways out: import the new listing, or name the list in
``not_loaded``. But ``not_loaded`` was read only while no copy was loaded, and ``dnc drop``
refuses a list a pack reads: a site that stopped calling Florida with an old listing still
loaded had every call BLOCKed, whatever it configured. Now a list ``not_loaded`` names is one
the site relies on no copy of: a stale copy widens no scope, as no copy does; a number ON
the copy, and every call in the state's own scope, are still judged by the state's pack.
Real gate, real list versions on disk.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy import Status
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

AT = datetime.fromisoformat("2026-07-22T12:00:00-05:00")  # Wednesday noon in Dallas
STALE = date(2026, 6, 15)  # the listing of 2026-07-01 took its place (501.059(4))
ON_THE_COPY = "2125550177"  # a Floridian's New York mobile on the stale listing


async def _runtime(tmp_path, not_loaded: frozenset[str]):
    """Every list current and holding ``ON_THE_COPY``, but fl-state's copy stale."""
    held = tmp_path / "held.txt"
    held.write_text(f"{ON_THE_COPY}\n8015550199\n")
    for each in ("national", "ut-state", "fl-state", "ok-state"):
        write_version(tmp_path, each, parse_list_file(held),
                      published=STALE if each == "fl-state" else date(2026, 7, 20),
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    return open_runtime(dataclasses.replace(settings, lists_not_loaded=not_loaded))


async def _check(rt, number: str):
    return await rt.gate.check(CheckRequest(number, "ut-solar-manual", at=AT, front="test"))


def _fl(decision):
    return {p.pack_id: p for p in decision.verdict.packs}["us-fl"]


@pytest.mark.parametrize("named", [False, True])
async def test_a_stale_florida_listing_named_not_loaded_widens_no_scope(tmp_path, named):
    rt = await _runtime(tmp_path, frozenset({"fl-state"}) if named else frozenset())
    try:
        dallas = await _check(rt, "2145550143")
        if not named:  # hrev83: fail closed, every call is in Florida's scope
            assert not dallas.allowed, dallas.verdict.reason
            assert dallas.verdict.deciding is not None
            assert dallas.verdict.deciding.rule_id == "us-fl:501.059(4):freshness"
            # why Florida judges a Dallas call, and the way out, where the operator reads it
            assert "not_loaded" in _fl(dallas).why
            assert "current copy" in _fl(dallas).why
            return
        assert dallas.allowed, dallas.verdict.reason
        assert not _fl(dallas).applies, _fl(dallas).why
    finally:
        await rt.aclose()


@pytest.mark.parametrize("number", ["3055550143", ON_THE_COPY])
async def test_florida_and_its_listed_people_are_still_judged_by_the_stale_copy(
        tmp_path, number):
    """A Miami number (area code: 501.059(8)(d)) and a number on the stale listing are in
    Florida's scope whatever not_loaded says, and the copy's age BLOCKs them."""
    rt = await _runtime(tmp_path, frozenset({"fl-state"}))
    try:
        decision = await _check(rt, number)
        assert not decision.allowed, decision.verdict.reason
        assert _fl(decision).applies
        assert "us-fl:501.059(4):freshness" in {
            o.rule_id for o in decision.verdict.outcomes if o.status is Status.BLOCK}
    finally:
        await rt.aclose()
