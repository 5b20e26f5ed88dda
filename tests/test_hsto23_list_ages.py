"""/readyz and `dnc status` judge a copy on the date the gate judges it on (hsto23).

The gate judges a state's list on the state's date (``state_day``: Florida's is Eastern's,
``Policy.list_day``; a Utah pack's rule on Utah's numbers, on Mountain's), but /readyz and
`dnc status` took UTC's: from 7 p.m. Eastern on the last usable day of Florida's quarterly
listing (5 p.m. Mountain for Utah's), /readyz read "stale" (503, the node taken out of
service) and `dnc status` a day older while the gate still took the copy; and a listing
imported on its day (in UTC+14 already) read "usable" while the gate BLOCKed every call it
covers as dated after the call. Synthetic clocks around midnight UTC and the states'
midnights; real gate, real list versions on disk.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta

from click.testing import CliRunner

import callguard.cli.lists as cli_lists
from callguard.cli.main import cli
from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

Q4, Q1 = date(2026, 10, 1), date(2027, 1, 1)  # Florida's listing: Q4 usable to 2026-12-31
FLORIDA_MIDNIGHT = datetime(2027, 1, 1, 5, 0, tzinfo=UTC)  # EST
HONOLULU = "8085550143"  # on no list: Florida's pack reaches it only when fl-state is unread
UT_PUBLISHED = date(2026, 9, 15)  # ut-state (3 months): usable through 2026-12-15
MOUNTAIN_MIDNIGHT = datetime(2026, 12, 16, 7, 0, tzinfo=UTC)  # MST
SALT_LAKE = "8015550143"


def _runtime(tmp_path, *, fl: date, ut: date = date(2026, 12, 10),
             others: date = date(2026, 12, 10)):
    tmp_path.mkdir(exist_ok=True)
    listed = tmp_path / "other.txt"
    listed.write_text("8015550199\n")
    dates = {"national": others, "ut-state": ut, "fl-state": fl, "ok-state": others}
    for name, published in dates.items():
        write_version(tmp_path, name, parse_list_file(listed), published=published,
                      area_codes=None, source="test")
    settings = load_settings(data_dir=tmp_path)
    return open_runtime(dataclasses.replace(settings, lists_not_loaded=frozenset()))


def _ready(rt, name: str, at: datetime):
    readiness = rt.readiness()
    readiness._clock = lambda: at  # synthetic
    return {c.name: c for c in readiness._list_checks()}[f"list:{name}"]


async def _florida_reaches(rt, at: datetime) -> bool:
    """Whether the gate reads fl-state as unread at ``at`` (Florida's pack then reaches a
    Honolulu number, and its freshness rule BLOCKs)."""
    decision = await rt.gate.check(CheckRequest(HONOLULU, "ut-solar-manual", at=at,
                                                front="test"))
    return {p.pack_id: p for p in decision.verdict.packs}["us-fl"].applies


async def test_florida_s_listing_reads_as_the_gate_judges_it_every_half_hour(tmp_path):
    """From 20:00 UTC on 31 December to 12:00 UTC on 1 January: last quarter's listing is
    ready exactly while the gate takes it (to Florida's midnight, not UTC's), and this
    quarter's exactly from then (before, it read usable while the gate BLOCKed)."""
    wrong = []
    for published in (Q4, Q1):
        rt = _runtime(tmp_path / published.isoformat(), fl=published)
        try:
            at = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
            while at <= datetime(2027, 1, 1, 12, 0, tzinfo=UTC):
                gate_takes = not await _florida_reaches(rt, at)
                assert gate_takes == ((at < FLORIDA_MIDNIGHT) == (published == Q4))
                check = _ready(rt, "fl-state", at)
                if check.ok != gate_takes:
                    wrong.append(f"{published} at {at:%m-%d %H:%M}Z: gate "
                                 f"{'takes' if gate_takes else 'refuses'}, /readyz "
                                 f"{check.ok}: {check.detail}")
                at += timedelta(minutes=30)
        finally:
            await rt.aclose()
    assert not wrong, "\n".join(wrong)


async def test_utah_s_list_reads_as_the_gate_judges_it_around_mountain_midnight(tmp_path):
    """ut-state, usable through 15 December: at 21:00 Mountain that day (04:00 UTC on the
    16th) the gate still takes it for a Salt Lake City number and /readyz says so; from
    Mountain midnight both refuse it."""
    rt = _runtime(tmp_path, fl=Q4, ut=UT_PUBLISHED, others=date(2026, 12, 10))
    try:
        for at, usable in ((MOUNTAIN_MIDNIGHT - timedelta(hours=3), True),
                           (MOUNTAIN_MIDNIGHT + timedelta(minutes=30), False)):
            decision = await rt.gate.check(CheckRequest(SALT_LAKE, "ut-solar-manual",
                                                        at=at, front="test"))
            stale = [o for o in decision.verdict.outcomes  # H.B. 45's 105(1)(b)
                     if o.reason.startswith("list ut-state") and o.status.value == "block"]
            assert bool(stale) != usable, (at, decision.verdict.outcomes)
            check = _ready(rt, "ut-state", at)
            assert check.ok == usable, (at, check.detail)
    finally:
        await rt.aclose()


def test_dnc_status_ages_a_state_s_list_on_the_state_s_date(tmp_path, monkeypatch):
    """`dnc status --json` at 02:00 UTC on 1 January (21:00 on 31 December in Florida):
    last quarter's listing is 91 days old (Florida's date; it said 92, UTC's), the
    national copy's on the latest date of a called party in the site's regions (heng24:
    US, Eastern's 31 December; it said 2, UTC's, a date no call the site places has)."""
    rt = _runtime(tmp_path, fl=Q4, others=date(2026, 12, 30))

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2027, 1, 1, 2, 0, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(cli_lists, "datetime", Clock)
    monkeypatch.setenv("CALLGUARD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["dnc", "status", "--json"])
    assert result.exit_code == 0, result.output
    ages = {row["list"]: row["age_days"] for row in json.loads(result.stdout)["lists"]}
    assert ages["fl-state"] == (date(2026, 12, 31) - Q4).days  # 91
    assert ages["national"] == 1
    import asyncio
    asyncio.run(rt.aclose())
