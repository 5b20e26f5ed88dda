"""A stale state copy BLOCKs every call, and the operator is told why and what to do (hrev90).

hrev83 made a copy of fl-state or ok-state that cannot show a number is not on it (stale,
misdated, partial) count as unread: every call comes into the state's pack and its freshness
rule BLOCKs every call it does not exempt, nationwide (fail closed, as for a list with no
version). A BLOCKed Dallas call said only "list fl-state v1 ... is not the current copy":
the pack line now names the way out. ``[lists] not_loaded`` is NOT read for a loaded copy:
the shipped file names fl-state and ok-state, and a site that imported one and kept the
name would otherwise lose hrev83's check silently (a review first made it the way out, then
kept the check). Real gate, real list versions on disk.
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
async def test_a_stale_florida_listing_blocks_a_dallas_call_and_says_what_to_do(
        tmp_path, named):
    """The shipped ``not_loaded`` (both lists) left in place after importing fl-state does
    not switch the check off."""
    rt = await _runtime(tmp_path, frozenset({"fl-state", "ok-state"}) if named
                        else frozenset())
    try:
        dallas = await _check(rt, "2145550143")
        assert not dallas.allowed, dallas.verdict.reason
        assert dallas.verdict.deciding is not None
        assert dallas.verdict.deciding.rule_id == "us-fl:501.059(4):freshness"
        why = _fl(dallas).why
        assert "fl-state" in why
        assert "import a current copy with --covers all" in why
    finally:
        await rt.aclose()


@pytest.mark.parametrize("number", ["3055550143", ON_THE_COPY])
async def test_florida_and_its_listed_people_are_judged_by_the_stale_copy(tmp_path, number):
    """A Miami number (area code: 501.059(8)(d)) and a number on the stale listing."""
    rt = await _runtime(tmp_path, frozenset({"fl-state"}))
    try:
        decision = await _check(rt, number)
        assert not decision.allowed, decision.verdict.reason
        assert _fl(decision).applies
        assert "us-fl:501.059(4):freshness" in {
            o.rule_id for o in decision.verdict.outcomes if o.status is Status.BLOCK}
    finally:
        await rt.aclose()
