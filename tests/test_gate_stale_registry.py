"""The gate, end to end on the real embedded stores, with a national copy 40 days old.

47 CFR 64.1200(c)(2) reaches only telephone solicitations; a call with a signed written
agreement is not one ((c)(2)(ii), (f)(15)(i)), so the stale copy does not block it
(us-federal 2026.12.11). A call that H.B. 45's 105(3) covers (a Utah-origin campaign)
still needs a fresh copy: that policy names no exemption.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy import ConsentKind, ConsentRecord
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file
from callguard.stores.writes import AddConsent, RecordEbr

AT = datetime.fromisoformat("2026-07-22T11:00:00-04:00")
STALE = date(2026, 6, 12)  # 40 days before the call


@pytest.fixture
async def runtime(tmp_path):
    listing = tmp_path / "national.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, parse_list_file(listing), published=STALE,
                      area_codes=None, source="test")
    rt = open_runtime(load_settings(data_dir=tmp_path))
    yield rt
    await rt.aclose()


async def test_stale_copy_blocks_a_call_without_consent(runtime):
    decision = await runtime.gate.check(CheckRequest("2125550123", "insurance-reminders", at=AT))
    assert not decision.allowed
    blocking = {o.rule_id for o in decision.verdict.outcomes if o.status.name == "BLOCK"}
    assert "us-federal:64.1200(c)(2)(i)(D)" in blocking


async def test_stale_copy_does_not_block_a_call_with_written_consent(runtime):
    await runtime.gate.write([AddConsent(
        "granite-insurance", "+12125550123",
        ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)), "test", "form-1")])
    decision = await runtime.gate.check(CheckRequest("2125550123", "insurance-reminders", at=AT))
    assert decision.allowed, decision.verdict.reason
    outcome = next(o for o in decision.verdict.outcomes
                   if o.rule_id == "us-federal:64.1200(c)(2)(i)(D)")
    assert outcome.status.name == "EXEMPT"


async def test_hb45_call_still_needs_a_fresh_copy(runtime):
    """A Utah-origin campaign under H.B. 45 calling a customer: 105(3) has no exemption."""
    await runtime.gate.write([RecordEbr("beehive-solar", "+12125550123", date(2026, 7, 1))])
    decision = await runtime.gate.check(CheckRequest("2125550123", "ut-solar-manual", at=AT))
    assert not decision.allowed
    blocking = {o.rule_id for o in decision.verdict.outcomes if o.status.name == "BLOCK"}
    assert blocking == {"us-ut-hb45-2000:13-26a-105(3):freshness"}, decision.verdict.reason
