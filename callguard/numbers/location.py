"""Where the called party may be: time zones from the number and from the CRM.

Calling hours must hold in *every* candidate zone, so candidates are a union:
the zones libphonenumber maps the number to, plus the CRM's zone or the zones of
the state its ZIP code lies in. A CRM ZIP code also says whether the called
party is in Utah, which decides whether the Utah packs apply.

Not every ZIP code is in a state. USPS also serves the territories (Puerto Rico,
the Virgin Islands, Guam, the Northern Mariana Islands, American Samoa), Wake
Island, the freely associated states (Palau, Micronesia, the Marshall Islands) and
military post offices (AA/AE/AP). Those are read ZIP by ZIP, not by prefix: 96799 is
American Samoa (UTC-11) inside Hawaii's 967 prefix, 96898 is Wake Island (UTC+12)
inside 968. A territory is accepted only when the site's ``regions`` setting calls it;
a military address has no knowable time zone and is refused (the gate fails closed).

A CRM time zone is held to the same ``regions``: it must be in use in a region the site
calls (tzdata's ``zone.tab``; a link, ``US/Eastern``, is the same clock as its target). The
zones are a union with the number's, so a wrong zone only adds limits to a number with a usable
geography; but a toll-free or non-geographic number (or one past
``max_candidate_zones``) has no zone of its own, and the CRM's then decides alone: a
LOCATION of Asia/Tokyo had a call to an 888 number at 23:30 in New York judged at 13:30
and passed under 64.1200(c)(1).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from callguard.errors import NumberError, UsageError
from callguard.numbers.nanp import area_code_zones
from callguard.numbers.parse import ascii_digits
from callguard.numbers.redact import clipped_repr
from callguard.utc import zone_named

__all__ = ["STATE_CODES", "Location", "parse_location", "region_for_state", "state_for_zip",
           "widest_area_codes", "zone_regions", "zones_for_state"]

# USPS 3-digit ZIP prefixes (sectional centers) by state; inclusive ranges.
_ZIP3_RANGES: tuple[tuple[int, int, str], ...] = (
    (5, 5, "NY"), (6, 7, "PR"), (8, 8, "VI"), (9, 9, "PR"),
    (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"),
    (50, 54, "VT"), (55, 55, "MA"), (56, 59, "VT"), (60, 69, "CT"),
    (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"), (197, 199, "DE"),
    (200, 200, "DC"), (201, 201, "VA"), (202, 205, "DC"), (206, 219, "MD"),
    (220, 246, "VA"), (247, 268, "WV"), (270, 289, "NC"), (290, 299, "SC"),
    (300, 319, "GA"), (320, 339, "FL"), (341, 349, "FL"), (350, 369, "AL"),
    (370, 385, "TN"), (386, 397, "MS"), (398, 399, "GA"), (400, 427, "KY"),
    (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"), (500, 528, "IA"),
    (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"), (570, 577, "SD"),
    (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"),
    (660, 679, "KS"), (680, 693, "NE"), (700, 714, "LA"), (716, 729, "AR"),
    (730, 732, "OK"), (733, 733, "TX"), (734, 749, "OK"), (750, 799, "TX"),
    (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"),
    (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"),
    (900, 961, "CA"), (967, 968, "HI"), (970, 979, "OR"),
    (980, 994, "WA"), (995, 999, "AK"),
)

# ZIP codes read one by one (inclusive ranges), checked before the prefixes above. Codes
# that are not states: territories and freely associated states (ISO 3166 codes, which
# are also their USPS codes), UM = Wake Island, AA/AE/AP = military post offices.
_ZIP5_RANGES: tuple[tuple[int, int, str], ...] = (
    (9000, 9899, "AE"), (34000, 34099, "AA"), (96200, 96699, "AP"),
    (96799, 96799, "AS"), (96898, 96898, "UM"),
    (96910, 96932, "GU"), (96939, 96940, "PW"), (96941, 96944, "FM"),
    (96950, 96952, "MP"), (96960, 96960, "MH"), (96970, 96970, "MH"),
)
# Prefixes only ever read ZIP by ZIP: anything there not in _ZIP5_RANGES is unassigned.
_ZIP5_ONLY = frozenset({90, 91, 92, 93, 94, 95, 96, 97, 98, 340, 962, 963, 964, 965, 966,
                        969})
_MILITARY = frozenset({"AA", "AE", "AP"})

# The 50 states and DC (region US), and the territories (their own ISO 3166 region).
_STATES = frozenset({
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID",
    "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC",
    "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
    "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
})
_TERRITORIES = frozenset({"AS", "GU", "MP", "PR", "UM", "VI"})
STATE_CODES = _STATES | _TERRITORIES  # what a pack's called_party_state may name

# Every zone in use somewhere in the state: a conservative superset.
_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AK": ("America/Anchorage", "America/Adak"),
    "AL": ("America/Chicago",),
    "AR": ("America/Chicago",),
    "AZ": ("America/Phoenix", "America/Denver"),
    "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",),
    "CT": ("America/New_York",),
    "DC": ("America/New_York",),
    "DE": ("America/New_York",),
    "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",),
    "GU": ("Pacific/Guam",),
    "AS": ("Pacific/Pago_Pago",),
    "MP": ("Pacific/Saipan",),
    "UM": ("Pacific/Wake",),
    "PW": ("Pacific/Palau",),
    "FM": ("Pacific/Chuuk", "Pacific/Pohnpei", "Pacific/Kosrae"),
    "MH": ("Pacific/Majuro", "Pacific/Kwajalein"),
    "HI": ("Pacific/Honolulu",),
    "IA": ("America/Chicago",),
    "ID": ("America/Boise", "America/Los_Angeles"),
    "IL": ("America/Chicago",),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"),
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"),
    "LA": ("America/Chicago",),
    "MA": ("America/New_York",),
    "MD": ("America/New_York",),
    "ME": ("America/New_York",),
    "MI": ("America/Detroit", "America/Chicago"),
    "MN": ("America/Chicago",),
    "MO": ("America/Chicago",),
    "MS": ("America/Chicago",),
    "MT": ("America/Denver",),
    "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"),
    "NE": ("America/Chicago", "America/Denver"),
    "NH": ("America/New_York",),
    "NJ": ("America/New_York",),
    "NM": ("America/Denver",),
    "NV": ("America/Los_Angeles", "America/Denver"),
    "NY": ("America/New_York",),
    "OH": ("America/New_York",),
    "OK": ("America/Chicago",),
    "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",),
    "PR": ("America/Puerto_Rico",),
    "RI": ("America/New_York",),
    "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/New_York", "America/Chicago"),
    "TX": ("America/Chicago", "America/Denver"),
    "UT": ("America/Denver",),
    "VA": ("America/New_York",),
    "VI": ("America/St_Thomas",),
    "VT": ("America/New_York",),
    "WA": ("America/Los_Angeles",),
    "WI": ("America/Chicago",),
    "WV": ("America/New_York",),
    "WY": ("America/Denver",),
}

_ZIP_RE = re.compile(r"^([0-9]{5})(?:-[0-9]{4})?$")
# tzdata's fixed-offset zones other than zero (Etc/GMT+7, Etc/GMT-14)
_ETC_OFFSET_RE = re.compile(r"etc/gmt[+-]0*[1-9][0-9]*", re.IGNORECASE)


@cache
def _zone_regions() -> dict[str, frozenset[str]]:
    """Each zone name's ISO 3166 regions: those ``zone.tab`` (tzdata, the package callguard
    depends on, so the answer does not vary with the host) lists for any name of the same
    clock. A link (``tzdata.zi``'s ``L TARGET NAME``) is its target's rules, so a link and
    its target share their regions both ways: zone.tab lists Saipan (MP) and St_Thomas (VI),
    links to Pacific/Guam and America/Puerto_Rico, and a site calling MP or VI refused
    Pacific/Guam or America/Puerto_Rico (zone1970.tab's names for those places), and the
    backward names Pacific/Truk (Chuuk's clock, FM) or America/Virgin, while it took them
    by the name zone.tab happens to list."""
    base = files("tzdata").joinpath("zoneinfo")
    target: dict[str, str] = {}
    for line in base.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        if line.startswith("Z "):
            target[line.split()[1]] = line.split()[1]
        elif line.startswith("L "):
            _link, to, name = line.split()[:3]
            # tzdata makes no link to a link (`make check_links`); were one made, the link
            # would get no region (refused: fail closed) and the link test would fail
            target[name] = to
    clock: dict[str, set[str]] = {}
    for line in base.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, _where, zone = line.split("\t")[:3]
            clock.setdefault(target.get(zone, zone), set()).add(code)
    return {name: frozenset(clock.get(to, ())) for name, to in target.items()}


def zone_regions(zone: str) -> frozenset[str]:
    """The regions whose places use ``zone`` (empty: none, such as Etc/UTC)."""
    return _zone_regions().get(zone, frozenset())


@cache
def widest_area_codes(regions: frozenset[str]) -> tuple[int, tuple[int, ...]]:
    """The most time zones one NANP area code with a zone in ``regions`` spans, and the
    codes that span that many (``area_code_zones``: overlays and corrections included).
    US: 3 (208/986 and 775 Idaho and Nevada, 605 and 701 the Dakotas, 907 Alaska); CA: 5
    (867, the territories). ``max_candidate_zones`` below it drops a real area code's own
    zones and lets a CRM location alone judge the call (htz23)."""
    widest, codes = 0, []
    for npa in range(200, 1000):
        zones = area_code_zones(npa)
        if not any(zone_regions(zone) & regions for zone in zones):
            continue
        if len(zones) > widest:
            widest, codes = len(zones), [npa]
        elif len(zones) == widest:
            codes.append(npa)
    return widest, tuple(codes)


def state_for_zip(zip5: str) -> str | None:
    """The state, territory or post-office code a ZIP code belongs to, or None if unassigned."""
    number = int(zip5)
    for low, high, code in _ZIP5_RANGES:
        if low <= number <= high:
            return code
    prefix = number // 100
    if prefix in _ZIP5_ONLY:
        return None
    for low, high, state in _ZIP3_RANGES:
        if low <= prefix <= high:
            return state
    return None


def region_for_state(code: str) -> str:
    """The ISO 3166 region a state or territory code calls in (``US`` for states and DC)."""
    return "US" if code in _STATES else code


def zones_for_state(state: str) -> tuple[str, ...]:
    """Every time zone in use in the state (empty when unknown)."""
    return _STATE_ZONES.get(state, ())


@dataclass(frozen=True, slots=True)
class Location:
    """The called party's location as the CRM gave it."""

    text: str
    zones: tuple[str, ...]
    state: str | None

    @property
    def source(self) -> str:
        """How the zones were found, for the verdict's explanation."""
        if self.state is not None and self.text[:1].isdigit():
            return f"CRM postal code {self.text} ({self.state})"
        return f"CRM time zone {self.text}"


def parse_location(text: str, *, regions: Collection[str] = frozenset({"US"})) -> Location:
    """Read an IANA zone or a 5-digit ZIP from the CRM; raise UsageError if neither.

    Digits of any script are read as ASCII, as in numbers; a reason never repeats a digit
    run that could be a phone number (a CRM field may hold one). A ZIP code outside the 50
    states and DC is accepted only when ``regions`` (the site's setting) includes its
    territory; a military post office is always refused.
    """
    try:
        text = ascii_digits(text.strip())
    except NumberError:
        raise UsageError(f"location {clipped_repr(text.strip(), 80)} holds a character that "
                         "is not a decimal digit") from None
    match = _ZIP_RE.match(text)
    if match:
        zip5 = match.group(1)
        state = state_for_zip(zip5)
        if state is None:
            raise UsageError(f"ZIP code {zip5} is not assigned to any US state or territory")
        if state in _MILITARY:
            raise UsageError(f"ZIP code {zip5} is a military post office ({state}): the "
                             "called party's time zone cannot be known from it; give a time "
                             "zone instead")
        region = region_for_state(state)
        if region not in regions:
            raise UsageError(f"ZIP code {zip5} is in {state}, a region this site does not "
                             f"call (regions: {', '.join(sorted(regions))}); a site that "
                             f"calls {state} adds \"{state}\" to [callguard] regions")
        zones = zones_for_state(state)
        if not zones:
            raise UsageError(f"ZIP code {zip5} ({state}) has no known time zone")
        return Location(zip5, zones, state)
    if "/" in text:
        # right/ and posix/ are tzdata's variant trees, no zone names (zoneinfo's
        # available_timezones leaves them out): right/America/Denver is read an hour off
        unknown = text.split("/", 1)[0] in ("right", "posix")
        if _ETC_OFFSET_RE.fullmatch(text):
            # tzdata's etcetera file: POSIX signs, "Etc/GMT+7" is UTC-7; a CRM that means
            # UTC-7 and sends Etc/GMT-7 gets UTC+7, 14 hours off. No place called has one
            # offset all year without a name of its own (America/Phoenix, Pacific/Honolulu).
            raise UsageError(f"time zone {clipped_repr(text, 80)} is a fixed offset whose "
                             "sign reads backwards (Etc/GMT+7 is UTC-7); use the called "
                             "party's IANA name such as America/Phoenix")
        if unknown or zone_named(text) is None:
            raise UsageError(f"unknown time zone {clipped_repr(text, 80)}; use an IANA name "
                             "such as America/Denver")
        used_in = zone_regions(text)
        if not used_in & set(regions):
            where = f" (it is used in {', '.join(sorted(used_in))})" if used_in else ""
            raise UsageError(f"time zone {clipped_repr(text, 80)} is not used in a region this "
                             f"site calls{where} (regions: {', '.join(sorted(regions))}); "
                             "give the called party's zone, such as America/Denver, or its "
                             "ZIP code")
        return Location(text, (text,), None)
    raise UsageError(
        f"location {clipped_repr(text, 80)} is neither an IANA time zone (e.g. America/Denver) "
        "nor a 5-digit ZIP code"
    )
