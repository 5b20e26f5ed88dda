"""A state's own list is current or not at an instant, in its state's time (hsto22).

Florida's listing is superseded on 1 January, April, July and October (501.059(4): "the
then-current quarterly listing"; us-fl ``superseded_on``). The gate judged a copy of a
scope list (``fl-state``, ``ok-state``) on the date of the call in the *called party's*
zones: between midnight in Florida (Eastern) and midnight at the called party, a copy was
current for one number and not for another at the same instant. On the eve of a quarter,
last quarter's listing still placed a Honolulu number out of Florida's scope (ALLOWed)
after it was superseded in Florida, and the new listing, imported on its day, was "dated
after the call" for every number whose day had not yet turned (Hawaii 5 hours, Alaska 4,
Pacific 3), so every such call nationwide was BLOCKed. Now a scope list's copy is judged on
its state's date (the latest date among the state's zones: Florida's is Eastern's), the
same for every number, and at every instant exactly one of two consecutive listings is the
current one. Real gate, real list versions on disk.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

Q4, Q1 = date(2026, 10, 1), date(2027, 1, 1)
# Midnight of 1 January 2027 in Florida's easternmost zone (EST, UTC-5)
FLORIDA_MIDNIGHT = datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
NUMBERS = {  # one number a zone, none on any list below
    "New York": "2125550143", "Dallas": "2145550143", "Denver": "7205550143",
    "Los Angeles": "2135550143", "Anchorage": "9075550143", "Honolulu": "8085550143",
}


async def _runtime(tmp_path, fl_published: date):
    """Every list current on the switch (published 2026-12-30) but ``fl-state``'s, which is
    the copy given; every list holds one Utah number only."""
    other = tmp_path / "other.txt"
    other.write_text("8015550199\n")
    for each in ("national", "ut-state", "fl-state", "ok-state"):
        write_version(tmp_path, each, parse_list_file(other),
                      published=fl_published if each == "fl-state" else date(2026, 12, 30),
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    return open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))


async def _check(rt, number: str, at: datetime):
    return await rt.gate.check(CheckRequest(number, "ut-solar-manual", at=at, front="test"))


def _florida(decision) -> bool:
    return {p.pack_id: p for p in decision.verdict.packs}["us-fl"].applies


def _rule(decision) -> str | None:
    deciding = decision.verdict.deciding
    return None if deciding is None else deciding.rule_id


@pytest.mark.parametrize("published", [Q4, Q1])
async def test_one_listing_is_current_at_every_instant_for_every_number(tmp_path, published):
    """From 20:00 UTC on 31 December to 12:00 UTC on 1 January, every 30 minutes: the
    listing of 2026-10-01 is current before Florida's midnight and the one of 2027-01-01
    from it, whatever the number's zone."""
    rt = await _runtime(tmp_path, published)
    wrong = []
    try:
        at = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
        while at <= datetime(2027, 1, 1, 12, 0, tzinfo=UTC):
            current = (at < FLORIDA_MIDNIGHT) == (published == Q4)
            for city, number in NUMBERS.items():
                decision = await _check(rt, number, at)
                # not current: nothing shows the number is not on the listing, so Florida's
                # pack applies whatever the area code, and its freshness rule BLOCKs
                if _florida(decision) == current or (
                        not current and _rule(decision) != "us-fl:501.059(4):freshness"):
                    wrong.append(f"{at:%m-%d %H:%M}Z {city}: {decision.verdict.reason}")
            at += timedelta(minutes=30)
    finally:
        await rt.aclose()
    assert not wrong, "\n".join(wrong)


async def test_last_quarter_listing_blocks_a_honolulu_call_after_florida_midnight(tmp_path):
    """00:30 on 1 January in Florida, 19:30 on 31 December in Honolulu: the listing of
    2026-10-01 is no longer Florida's current one; it cannot show the number is not on the
    listing of 2027-01-01 (it was ALLOWed, out of Florida's scope)."""
    rt = await _runtime(tmp_path, Q4)
    try:
        decision = await _check(rt, NUMBERS["Honolulu"],
                                datetime.fromisoformat("2026-12-31T19:30:00-10:00"))
        assert not decision.allowed, decision.verdict.reason
        assert _rule(decision) == "us-fl:501.059(4):freshness"
        assert "2027-01-01" in decision.verdict.reason
    finally:
        await rt.aclose()


async def test_the_new_listing_serves_a_honolulu_call_after_florida_midnight(tmp_path):
    """The same instant, the listing of 2027-01-01 imported on its day: current in Florida,
    it shows the number is not on it (it was 'dated after the call', every call west of
    Eastern BLOCKed until the caller's midnight)."""
    rt = await _runtime(tmp_path, Q1)
    try:
        decision = await _check(rt, NUMBERS["Honolulu"],
                                datetime.fromisoformat("2026-12-31T19:30:00-10:00"))
        assert decision.allowed, decision.verdict.reason
        assert not _florida(decision)
    finally:
        await rt.aclose()


async def test_the_new_listing_is_not_current_before_florida_midnight(tmp_path):
    """23:30 on 31 December in Florida (04:30 UTC): the listing of 2027-01-01 is not yet in
    effect anywhere in Florida (it is a copy dated after the call, fail closed)."""
    rt = await _runtime(tmp_path, Q1)
    try:
        decision = await _check(rt, NUMBERS["New York"],
                                datetime.fromisoformat("2026-12-31T23:30:00-05:00"))
        assert not decision.allowed, decision.verdict.reason
        assert _rule(decision) == "us-fl:501.059(4):freshness"
        assert "after the date of the call" in decision.verdict.reason
    finally:
        await rt.aclose()
