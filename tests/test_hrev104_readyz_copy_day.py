"""/readyz and the gate agree on a national copy dated ahead of the call's date (hrev104).

The gate judges a copy of a list of no state on ``copy_day`` (3de196a): dated after the
call's date but not after the latest date anywhere (UTC+14), it is 0 days old; dated later
still, it is a wrong date and every call the list's rule reaches is BLOCKed, in every zone
(no place's date is later). /readyz judged such a list on UTC's date alone and read a copy
dated after the latest date anywhere "usable" (hsto23 left dates after a call's date to the
gate, as blocking "only calls in its scope then, at night there"): a node BLOCKing every
telemarketing call stayed in service. Synthetic clocks; real gate, real list versions on disk.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

SALT_LAKE = "8015550143"  # on no list


def _runtime(tmp_path, national: date):
    listed = tmp_path / "other.txt"
    listed.write_text("8015550199\n")
    for name, published in (("national", national), ("ut-state", date(2026, 12, 1)),
                            ("fl-state", date(2026, 10, 1)), ("ok-state", date(2026, 12, 1))):
        write_version(tmp_path, name, parse_list_file(listed), published=published,
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    return open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))


async def _judged(rt, at: datetime) -> tuple[bool, bool]:
    """(the gate takes the national copy, /readyz reads it usable) at ``at``."""
    decision = await rt.gate.check(CheckRequest(SALT_LAKE, "ut-solar-manual", at=at,
                                                front="test"))
    refused = [o for o in decision.verdict.outcomes
               if o.reason.startswith("list national") and o.status.value == "block"]
    readiness = rt.readiness()
    readiness._clock = lambda: at  # synthetic
    check = {c.name: c for c in readiness._list_checks()}["list:national"]
    return not refused, check.ok


async def test_a_copy_dated_today_at_utc_is_usable_to_both_before_the_day_begins_here(
        tmp_path):
    """02:00 UTC on 7 December (19:00 on the 6th in Salt Lake City), copy dated the 7th:
    the gate takes it (0 days old) and /readyz says so."""
    rt = _runtime(tmp_path, date(2026, 12, 7))
    try:
        assert await _judged(rt, datetime(2026, 12, 7, 2, 0, tzinfo=UTC)) == (True, True)
    finally:
        await rt.aclose()


async def test_a_copy_dated_after_today_anywhere_is_refused_by_both(tmp_path):
    """12:00 UTC on 7 December (the 8th at UTC+14 since 10:00), copy dated the 9th (an
    importer's clock two days fast): the gate BLOCKs the call as a wrong date, and /readyz
    must not read the copy usable (it did: UTC's date is before the copy's)."""
    rt = _runtime(tmp_path, date(2026, 12, 9))
    try:
        assert await _judged(rt, datetime(2026, 12, 7, 12, 0, tzinfo=UTC)) == (False, False)
    finally:
        await rt.aclose()
