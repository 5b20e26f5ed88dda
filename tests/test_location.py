"""CRM ZIP codes outside the states: territories, Wake, freely associated states, military."""

from __future__ import annotations

from datetime import date, datetime
from importlib.resources import files

import pytest

from callguard.config import load_settings
from callguard.errors import UsageError
from callguard.gate import CheckRequest
from callguard.numbers import parse_location
from callguard.numbers.location import STATE_CODES, region_for_state, state_for_zip, zone_regions
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import parse_list_file

ALL = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "UM", "PW", "FM", "MH"})


@pytest.mark.parametrize(("zip5", "code", "zones"), [
    ("96799", "AS", ("Pacific/Pago_Pago",)),      # inside Hawaii's 967 prefix: UTC-11
    ("96898", "UM", ("Pacific/Wake",)),           # inside 968: UTC+12
    ("96910", "GU", ("Pacific/Guam",)),
    ("96932", "GU", ("Pacific/Guam",)),
    ("96950", "MP", ("Pacific/Saipan",)),
    ("96939", "PW", ("Pacific/Palau",)),
    ("96941", "FM", ("Pacific/Chuuk", "Pacific/Pohnpei", "Pacific/Kosrae")),
    ("96960", "MH", ("Pacific/Majuro", "Pacific/Kwajalein")),
    ("00601", "PR", ("America/Puerto_Rico",)),
    ("00802", "VI", ("America/St_Thomas",)),
    ("96701", "HI", ("Pacific/Honolulu",)),
    ("96801", "HI", ("Pacific/Honolulu",)),
])
def test_zip_codes_that_are_not_states(zip5, code, zones):
    """Each is read ZIP by ZIP, with its own zones, when the site calls its region."""
    location = parse_location(zip5, regions=ALL)
    assert (location.state, location.zones) == (code, zones)


def test_american_samoa_is_not_judged_on_honolulu_time():
    """Issue 17 kind 4: 96799 was Hawaii (UTC-10); American Samoa is UTC-11."""
    assert parse_location("96799", regions=ALL).zones == ("Pacific/Pago_Pago",)


@pytest.mark.parametrize("zip5", ["96799", "96910", "00601", "00802", "96950", "96898",
                                  "96940"])
def test_a_territory_the_site_does_not_call_is_refused(zip5):
    """regions = ["US"] (the default) calls only the 50 states and DC."""
    with pytest.raises(UsageError, match="a region this site does not call"):
        parse_location(zip5)


@pytest.mark.parametrize("zip5", ["09012", "34001", "96201", "96601"])
def test_military_post_offices_have_no_knowable_zone(zip5):
    with pytest.raises(UsageError, match="military post office"):
        parse_location(zip5, regions=ALL)


@pytest.mark.parametrize("zip5", ["96933", "96901", "96999", "09901", "00400", "00000"])
def test_unassigned_zip_codes_are_refused(zip5):
    assert state_for_zip(zip5) is None
    with pytest.raises(UsageError, match="not assigned"):
        parse_location(zip5, regions=ALL)


def test_regions_of_codes():
    assert region_for_state("UT") == "US"
    assert region_for_state("DC") == "US"
    assert region_for_state("PR") == "PR"
    assert {"UT", "DC", "PR", "GU", "AS", "MP", "VI"} <= STATE_CODES
    assert "PW" not in STATE_CODES  # a sovereign state in free association, not a territory


@pytest.mark.parametrize("zone", ["America/Argentina", "America/Indiana",
                                  "Europe/" + "x" * 300])
def test_a_zone_directory_or_an_overlong_name_is_an_unknown_zone(zone):
    """tzdata keeps "America/Argentina" as a directory: ZoneInfo raises IsADirectoryError
    (an OSError, not ZoneInfoNotFoundError), and a 300-character name ENAMETOOLONG. A CRM
    sending such a LOCATION got "internal error (IsADirectoryError)" as its BLOCK reason
    instead of the location's own."""
    with pytest.raises(UsageError, match="unknown time zone"):
        parse_location(zone)


@pytest.mark.parametrize("zone", ["right/America/Denver", "posix/America/Denver"])
def test_a_tzdata_variant_directory_is_no_crm_zone(zone):
    """ZoneInfo opens /usr/share/zoneinfo/right/America/Denver (the leap-second variant) and
    reads it an hour off: 2026-12-06 04:00:10 UTC is 22:00:10 there, 21:00:10 in Denver,
    so a CRM sending it had a 7:30 a.m. call in December judged at 8:30 and ALLOWed
    (64.1200(c)(1): not before 8 a.m.). available_timezones() leaves right/ and posix/
    out; so does the gate (posix/ is the same data under another name: refused alike)."""
    with pytest.raises(UsageError, match="unknown time zone"):
        parse_location(zone)


@pytest.mark.parametrize("zone", ["Etc/GMT+7", "Etc/GMT-7", "Etc/GMT+10", "Etc/GMT-14"])
def test_a_fixed_offset_zone_with_a_backwards_sign_is_no_crm_zone(zone):
    """tzdata's etcetera zones have POSIX signs: Etc/GMT-7 is UTC+7. A CRM meaning Mountain
    Standard Time that sends it had a 10 p.m. call in Denver (05:00 UTC) judged at noon and
    ALLOWed (64.1200(c)(1): not after 9 p.m.); refused, the call is BLOCKed with the reason."""
    with pytest.raises(UsageError, match="sign reads backwards"):
        parse_location(zone)


@pytest.mark.parametrize("zone", ["Etc/UTC", "Etc/GMT+0", "Etc/GMT-0"])
def test_a_zone_without_a_signed_offset_is_no_backwards_sign(zone):
    """Not refused as a backwards sign; refused as a zone no US place uses (below)."""
    with pytest.raises(UsageError, match="not used in a region this site calls"):
        parse_location(zone)


@pytest.mark.parametrize("zone", ["US/Mountain", "America/Denver", "US/Eastern",
                                  "America/Indiana/Knox", "America/Phoenix"])
def test_a_us_zone_or_a_link_to_one_is_kept(zone):
    assert parse_location(zone).zones == (zone,)


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Europe/London", "Etc/UTC", "Etc/GMT",
                                  "Pacific/Guam"])
def test_a_zone_no_place_the_site_calls_uses_is_refused(zone):
    """The CRM's zone was checked to exist, not to be a place the site calls. For a number
    with no geography of its own (toll-free, non-geographic) it is the only zone, so a
    LOCATION of Asia/Tokyo had a call to an 888 number at 23:30 in New York judged at
    13:30 and passed under 64.1200(c)(1); refused, the call is BLOCKed with the reason,
    as a ZIP code outside the site's regions is."""
    with pytest.raises(UsageError, match=r"not used in a region this site calls.*\(regions: US\)"):
        parse_location(zone)


def test_a_territory_outside_the_regions_says_how_to_call_it():
    with pytest.raises(UsageError, match=r'calls GU adds "GU" to \[callguard\] regions'):
        parse_location("96910")
    with pytest.raises(UsageError, match=r"\(it is used in GU, MP\)"):
        parse_location("Pacific/Guam")  # Saipan's clock too (a link to it)
    with pytest.raises(UsageError, match=r"\(it is used in JP\)"):
        parse_location("Asia/Tokyo")


def test_a_territory_zone_is_taken_when_the_site_calls_it():
    assert parse_location("Pacific/Guam", regions=ALL).zones == ("Pacific/Guam",)
    assert parse_location("America/St_Thomas", regions=frozenset({"VI"})).zones == (
        "America/St_Thomas",)


async def test_a_foreign_crm_zone_no_longer_allows_a_toll_free_call_at_night(tmp_path):
    """The gate end to end: an 888 number has no zone of its own, so the CRM's decides
    alone. 04:30 UTC on a Tuesday is 23:30 Monday in New York, 20:30 in Los Angeles, and
    13:30 in Tokyo: with LOCATION Asia/Tokyo the call was ALLOWed."""
    listing = tmp_path / "national.txt"
    listing.write_text("8015550199\n")
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, parse_list_file(listing), published=date(2026, 12, 1),
                      area_codes=None, source="test")
    rt = open_runtime(load_settings(data_dir=tmp_path))
    try:
        at = datetime.fromisoformat("2026-12-08T04:30:00+00:00")
        tokyo = await rt.gate.check(CheckRequest("8885550123", "ut-solar-manual", at=at,
                                                 location="Asia/Tokyo"))
        eastern = await rt.gate.check(CheckRequest("8885550123", "ut-solar-manual", at=at,
                                                   location="America/New_York"))
    finally:
        await rt.aclose()
    assert not eastern.allowed  # the call really is at night where the party is
    assert not tokyo.allowed
    assert tokyo.verdict.deciding.rule_id == "callguard:bad-location"
    assert "not used in a region this site calls" in tokyo.verdict.reason


@pytest.mark.parametrize(("zone", "region"), [
    ("America/Puerto_Rico", "VI"),  # zone1970.tab's name for VI; zone.tab lists St_Thomas
    ("America/Virgin", "VI"),       # St_Thomas's backward name
    ("Pacific/Guam", "MP"),         # zone.tab lists Saipan, a link to Pacific/Guam
    ("Pacific/Truk", "FM"),         # Chuuk's backward name (both links to Port_Moresby)
    ("Pacific/Ponape", "FM"),       # Pohnpei's
    ("Pacific/Pago_Pago", "UM"),    # zone.tab lists Midway, a link to Pago_Pago
])
def test_a_zone_of_the_same_clock_as_a_called_place_is_taken(zone, region):
    """A link is its target's rules: regions were given from the target to the link only,
    so a site calling VI took America/St_Thomas but refused America/Puerto_Rico (the same
    clock, the name zone1970.tab gives VI) and BLOCKed the call (callguard:bad-location)."""
    assert parse_location(zone, regions=frozenset({region})).zones == (zone,)


def test_a_link_and_its_target_are_one_clock_for_the_regions():
    """Every link of tzdata.zi has its target's regions, and the target its links'."""
    text = files("tzdata").joinpath("zoneinfo", "tzdata.zi").read_text(encoding="utf-8")
    links = [line.split()[1:3] for line in text.splitlines() if line.startswith("L ")]
    assert len(links) > 200
    assert [(t, n) for t, n in links if zone_regions(t) != zone_regions(n)] == []


@pytest.mark.parametrize(("zone", "regions"), [
    ("America/Puerto_Rico", frozenset({"US"})),  # the same clock as places in PR, VI, CA
    ("America/St_Thomas", frozenset({"US"})),
    ("Pacific/Guam", frozenset({"US"})),
    ("Asia/Tokyo", ALL),
    ("America/Toronto", ALL),
])
def test_the_same_clock_still_has_to_be_one_the_site_calls(zone, regions):
    with pytest.raises(UsageError, match="not used in a region this site calls"):
        parse_location(zone, regions=regions)
