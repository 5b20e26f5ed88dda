"""htz23: ``max_candidate_zones`` below a real area code's zones is refused at load.

A number of more zones than the setting has "no usable geography", and a CRM location
then judges its calling hours alone. Below 3, a 208 number (Idaho: Boise's and Denver's
Mountain clocks and Pacific in the north) with a Boise ZIP was judged in Mountain time
only; the holder may be in Coeur d'Alene, an hour behind. Main loaded such a setting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from callguard.numbers.location import parse_location, widest_area_codes
from callguard.numbers.nanp import area_code_zones
from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    Policy,
    PolicySettings,
    Verdict,
)
from tests.conftest import PACKS, PACKS_DIR, PARSER

CAMPAIGN = Campaign(id="htz23", solicitor="htz23 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())


def write(tmp_path, body: str):
    path = tmp_path / "c.toml"
    path.write_text(f"[callguard]\npacks_dir = '{PACKS_DIR}'\n{body}")
    return path


@pytest.mark.parametrize("value", [0, 1, 2, -3])
def test_below_the_widest_us_area_code_is_refused(tmp_path, value):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, f"max_candidate_zones = {value}\n"))
    message = str(caught.value)
    assert f"max_candidate_zones {value} is below the 3 time zones of area codes" in message
    assert "208" in message
    assert "907" in message
    assert "America/Boise, America/Denver, America/Los_Angeles" in message
    assert "Set it to 3 or more, or leave it out (default 4)" in message


@pytest.mark.parametrize(("body", "expected"), [
    ("", 4),
    ("max_candidate_zones = 3\n", 3),
    ("max_candidate_zones = 9\n", 9),
    ("regions = ['US', 'CA']\n", 5),  # 867: five zones, above the shipped 4
])
def test_accepted_values_and_the_default(tmp_path, body, expected):
    settings = load_settings(write(tmp_path, body))
    assert settings.policy_settings.max_candidate_zones == expected


def test_a_site_calling_canada_cannot_keep_four(tmp_path):
    """867 (Yukon, the Northwest Territories, Nunavut) spans five zones: 4 drops them."""
    with pytest.raises(ConfigError, match=r"below the 5 time zones of area code 867 "):
        load_settings(write(tmp_path, "regions = ['US', 'CA']\nmax_candidate_zones = 4\n"))


def test_widest_area_codes_by_region():
    assert widest_area_codes(frozenset({"US"})) == (3, (208, 605, 701, 775, 907, 986))
    assert widest_area_codes(frozenset({"CA"}))[0] == 5
    assert widest_area_codes(frozenset({"XX"})) == (0, ())
    assert len(area_code_zones(208)) == 3


def test_the_default_keeps_every_zone_of_208_with_a_crm_location():
    """What the refusal protects: with the loaded setting (3 or more) a 208 number whose
    CRM zone is America/Boise is judged in every zone of 208: at 15:30 UTC in December it
    is 08:30 in Boise and 07:30 in Coeur d'Alene, and the call is blocked there. With 2
    the CRM zone judged alone and the call was allowed."""
    policy = Policy(PACKS, PolicySettings(max_candidate_zones=3))
    attempt = CallAttempt(PARSER.parse("2083345678"), CAMPAIGN, DialingMode.MANUAL,
                          datetime(2026, 12, 16, 15, 30, tzinfo=UTC),
                          parse_location("America/Boise"))
    plan = policy.plan(attempt)
    assert "America/Los_Angeles" in plan.zones.zones
    verdict = policy.decide(plan, Facts(lists=lists(plan), fetched=frozenset(FactKind)))
    assert isinstance(verdict, Verdict)
    assert not verdict.allowed
    assert "America/Los_Angeles" in verdict.reason
    narrow = Policy(PACKS, PolicySettings(max_candidate_zones=2))
    plan = narrow.plan(attempt)
    assert plan.zones.zones == ("America/Boise",)  # what a cap of 2 did: refused now
    verdict = narrow.decide(plan, Facts(lists=lists(plan), fetched=frozenset(FactKind)))
    assert isinstance(verdict, Verdict)
    assert verdict.allowed, verdict.reason


def lists(plan):
    return {n: ListCheck(n, 1, date(2026, 12, 1), False, True) for n in plan.list_names}
