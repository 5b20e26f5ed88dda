"""A scope list's copy that cannot show a number is NOT on it counts as unread (hrev83).

us-ok 2026.12.17 (hacc22) and us-fl 2026.12.16 bring a number of any area code into the
state's pack when it is on the state's own list (``called_party_listed_on``). The gate
looked the number up in whatever copy it held: a copy past its age (15 O.S. 775B.4: the
registry is updated "not less than quarterly"; pack: 3 months), a Florida listing past the
next quarter's day (501.059(4): "the then-current quarterly listing"), a copy dated after
the call, or one imported before 2026.12.17 with ``--covers`` naming Oklahoma's area codes
only (a later import without ``--covers`` keeps that coverage). An Oklahoman who registered
a Dallas mobile after such a copy was read as not on it, out of Oklahoma's scope, and the
call ALLOWed, while the same copy BLOCKs every call to an Oklahoma area code
(us-ok:775B.4:freshness). Now such a copy counts as one not loaded: the pack applies and
its rules judge the copy (fail closed). Real gate, real list versions on disk.
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

AT = datetime.fromisoformat("2026-07-22T12:00:00-05:00")  # Wednesday noon in Dallas and OKC
DALLAS = "2145550143"  # registered after the copies below were published: on none of them
OKLAHOMA_CODES = frozenset({405, 539, 572, 580, 918})


async def _runtime(tmp_path, name: str, *, published: date,
                   area_codes: frozenset[int] | None = None, others: date = date(2026, 7, 20)):
    """Every list current (``others``) and holding another number, but ``name``'s copy as
    given."""
    other = tmp_path / "other.txt"
    other.write_text("8015550199\n")
    for each in ("national", "ut-state", "fl-state", "ok-state"):
        write_version(tmp_path, each, parse_list_file(other),
                      published=published if each == name else others,
                      area_codes=area_codes if each == name else None, source="test")
    settings = load_settings(data_dir=tmp_path)
    return open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))


async def _check(rt, number: str = DALLAS, at: datetime = AT):
    return await rt.gate.check(CheckRequest(number, "ut-solar-manual", at=at, front="test"))


def _why(decision, pack: str) -> str:
    applied = {p.pack_id: p for p in decision.verdict.packs}[pack]
    assert applied.applies, applied.why
    return applied.why


@pytest.mark.parametrize("fresh", [True, False])
async def test_a_stale_ok_state_copy_cannot_show_a_dallas_number_is_not_on_it(tmp_path, fresh):
    """Published 2026-03-01: more than three months old on 2026-07-22 (the rule's limit)."""
    rt = await _runtime(tmp_path, "ok-state",
                        published=date(2026, 7, 1) if fresh else date(2026, 3, 1))
    try:
        decision = await _check(rt)
        if fresh:  # a current copy without the number: Oklahoma does not apply
            assert decision.allowed, decision.verdict.reason
            return
        assert not decision.allowed, decision.verdict.reason
        assert decision.verdict.deciding is not None
        assert decision.verdict.deciding.rule_id == "us-ok:775B.4:freshness"
        assert "ok-state" in _why(decision, "us-ok")
    finally:
        await rt.aclose()


async def test_an_ok_state_copy_covering_oklahoma_area_codes_only_is_unread(tmp_path):
    """A copy imported before us-ok 2026.12.17 with --covers 405,539,572,580,918."""
    rt = await _runtime(tmp_path, "ok-state", published=date(2026, 7, 1),
                        area_codes=OKLAHOMA_CODES)
    try:
        decision = await _check(rt)
        assert not decision.allowed, decision.verdict.reason
        assert decision.verdict.deciding is not None
        assert decision.verdict.deciding.rule_id == "us-ok:775B"
        assert "does not cover area code 214" in decision.verdict.reason
        tulsa = await _check(rt, "9185550144")  # a number the copy covers, not on it
        assert tulsa.allowed, tulsa.verdict.reason
    finally:
        await rt.aclose()


async def test_a_florida_listing_past_the_quarter_day_is_unread(tmp_path):
    """501.059(4): 'the then-current quarterly listing'. The copy of 2026-06-15 is only
    a month old on 2026-07-22, but the listing of 2026-07-01 took its place."""
    rt = await _runtime(tmp_path, "fl-state", published=date(2026, 6, 15))
    try:
        decision = await _check(rt, "2125550143", datetime.fromisoformat(
            "2026-07-22T11:00:00-04:00"))
        assert not decision.allowed, decision.verdict.reason
        assert decision.verdict.deciding is not None
        assert decision.verdict.deciding.rule_id == "us-fl:501.059(4):freshness"
        assert "fl-state" in _why(decision, "us-fl")
    finally:
        await rt.aclose()


async def test_an_ok_state_copy_dated_after_the_call_is_unread(tmp_path):
    rt = await _runtime(tmp_path, "ok-state", published=date(2026, 8, 1))
    try:
        decision = await _check(rt)
        assert not decision.allowed, decision.verdict.reason
        assert decision.verdict.deciding is not None
        assert decision.verdict.deciding.rule_id == "us-ok:775B.4:freshness"
    finally:
        await rt.aclose()


async def test_the_copy_is_judged_on_the_called_party_local_date(tmp_path):
    """Denver, 19:30 on 2026-06-30 (21:30 in Florida, already 1 July in UTC): the Florida
    listing of 2026-04-01 is still the current one (a scope list's copy is judged on its
    state's date, hsto22); judged on the UTC date, every such call would come into
    Florida's pack. From Florida's midnight it is not: tests/test_hsto22_*."""
    rt = await _runtime(tmp_path, "fl-state", published=date(2026, 4, 1),
                        others=date(2026, 6, 29))
    try:
        decision = await _check(rt, "7205550143", datetime.fromisoformat(
            "2026-06-30T19:30:00-06:00"))
        assert decision.allowed, decision.verdict.reason
        assert not {p.pack_id: p for p in decision.verdict.packs}["us-fl"].applies
    finally:
        await rt.aclose()
