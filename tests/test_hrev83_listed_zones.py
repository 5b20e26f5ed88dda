"""A state list places its people in the state's zones BESIDE the zones known, never in
place of an unknown local time (hrev83, review of hacc22).

hacc22 added the listing state's zones to the called party's candidate zones (a Los Angeles
mobile on ok-state is judged at 8 p.m. in Oklahoma too). But when the number had no usable
zone (toll-free, or more zones than ``max_candidate_zones``) and no CRM location, the
listing's zones became the ONLY zones: a call BLOCKed before as "local time unknown" under
47 CFR 64.1200(c)(1) ("local time at the called party's location") was ALLOWed at noon in
Oklahoma — 7 a.m. in Honolulu, where a toll-free number may ring. A listing says where the
person lived when registering, not where the call rings. With ``unknown_local_time =
"every-zone"`` the listing's zones had also replaced every zone the number maps to.
"""

from __future__ import annotations

import tomllib

from callguard.case_files import pack_documents
from callguard.numbers import NumberInfo
from callguard.policy.cases import CaseResult, load_suite, run_case
from callguard.policy.zones import resolve_zones
from tests.conftest import PACKS_DIR

CAMPAIGNS = """
[campaigns.tx-manual]
solicitor = "hrev83-lone-star-solar"
caller_id = "+12145550100"
default_mode = "manual"
origin_state = "TX"
"""
PACK_DOCS = pack_documents(PACKS_DIR)
OKLAHOMA = ("on ok-state (OK)", ("America/Chicago",))
FIVE_ZONES = ("America/New_York", "America/Chicago", "America/Denver",
              "America/Phoenix", "America/Los_Angeles")


def run(case_toml: str) -> CaseResult:
    """One case in the ``*.tests.toml`` format, judged by the shipped packs."""
    doc = tomllib.loads(CAMPAIGNS + "\n[[cases]]\n" + case_toml)
    suite = load_suite("tests/test_hrev83_listed_zones.py", doc, PACK_DOCS)
    (case,) = suite.cases
    return run_case(suite, case)


def check(case_toml: str) -> None:
    result = run(case_toml)
    verdict = result.verdict
    assert result.passed, (result.problems, verdict.reason,
                           [(o.rule_id, o.status.value, o.reason) for o in verdict.outcomes])


def test_a_listing_alone_does_not_make_a_toll_free_number_local_time_known():
    toll_free = NumberInfo("+18005550143", "US", 8005550143, (), False, True)
    resolved = resolve_zones(toll_free, None, max_zones=4, every_zone_fallback=False,
                             listed=(OKLAHOMA,))
    assert resolved.zones == ()
    assert resolved.unknown_reason is not None
    assert "toll-free" in resolved.unknown_reason


def test_with_the_every_zone_fallback_the_listing_adds_to_the_number_zones():
    """A number of five zones (over max 4), on ok-state, site reads every-zone: judged in
    all five (Chicago among them), not in Oklahoma's alone."""
    number = NumberInfo("+12125550123", "US", 2125550123, FIVE_ZONES, True, True)
    listed_hawaii = ("on xx-state (HI)", ("Pacific/Honolulu",))
    resolved = resolve_zones(number, None, max_zones=4, every_zone_fallback=True,
                             listed=(OKLAHOMA, listed_hawaii))
    assert resolved.zones == (*FIVE_ZONES, "Pacific/Honolulu")
    closed = resolve_zones(number, None, max_zones=4, every_zone_fallback=False,
                           listed=(OKLAHOMA,))
    assert closed.zones == ()


def test_the_listing_still_adds_its_zones_to_a_known_number():
    number = NumberInfo("+12135550143", "US", 2135550143, ("America/Los_Angeles",), True, True)
    resolved = resolve_zones(number, None, max_zones=4, every_zone_fallback=False,
                             listed=(OKLAHOMA,))
    assert resolved.zones == ("America/Los_Angeles", "America/Chicago")


def test_a_toll_free_number_on_the_oklahoma_registry_with_a_relationship_is_not_called():
    """Before: ALLOW at noon CDT (the registry's zone taken for the called party's own)."""
    check("""
name = "hrev83 ok toll-free number on the registry, customer, no CRM location: time unknown"
words = "47 CFR 64.1200(c)(1): local time at the called party's location; 775B.2(2), 775B.4 \
(read): the registry holds an Oklahoma resident's numbers, not where the call rings"
at = 2026-07-22T12:00:00-05:00
campaign = "tx-manual"
number = "+18005550143"
lists = { ok-state = { listed = true } }
ebr = { last_transaction = 2026-04-20 }
expect = "BLOCK"
rule = "us-federal:64.1200(c)(1)"
""")


def test_a_toll_free_number_on_the_florida_listing_with_written_consent_is_not_called():
    """Before: ALLOW at noon CDT (Florida's two zones taken for the called party's own)."""
    check("""
name = "hrev83 fl toll-free number on the listing, written consent, no CRM location"
words = "47 CFR 64.1200(c)(1): local time at the called party's location"
at = 2026-07-22T12:00:00-05:00
campaign = "tx-manual"
number = "+18005550143"
lists = { fl-state = { listed = true } }
consents = [{ kind = "written", granted_at = 2026-01-01T00:00:00Z }]
expect = "BLOCK"
rule = "us-federal:64.1200(c)(1)"
""")


def test_with_a_crm_location_the_toll_free_number_on_the_registry_is_called():
    """The CRM location makes the local time known; the listing adds Oklahoma's zone."""
    check("""
name = "hrev83 ok toll-free number on the registry, customer, CRM in Tulsa: called at noon"
words = "47 CFR 64.1200(c)(1); 775B.2(3): a relationship within 24 months lifts the registry"
at = 2026-07-22T12:00:00-05:00
campaign = "tx-manual"
number = "+18005550143"
location = "74103"
lists = { ok-state = { listed = true } }
ebr = { last_transaction = 2026-04-20 }
expect = "ALLOW"
""")
