"""Where the called party may be: time zones from the number and from the CRM.

Calling hours must hold in *every* candidate zone, so candidates are a union:
the zones libphonenumber maps the number to, plus the CRM's zone or the zones of
the state its ZIP code lies in. A CRM ZIP code also says whether the called
party is in Utah, which decides whether the Utah packs apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callguard.errors import NumberError, UsageError
from callguard.numbers.parse import ascii_digits
from callguard.numbers.redact import redact_digits

__all__ = ["Location", "parse_location", "state_for_zip", "zones_for_state"]

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
    (900, 961, "CA"), (967, 968, "HI"), (969, 969, "GU"), (970, 979, "OR"),
    (980, 994, "WA"), (995, 999, "AK"),
)

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


def state_for_zip(zip5: str) -> str | None:
    """The state a ZIP code's 3-digit prefix belongs to, or None if unassigned."""
    prefix = int(zip5[:3])
    for low, high, state in _ZIP3_RANGES:
        if low <= prefix <= high:
            return state
    return None


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


def parse_location(text: str) -> Location:
    """Read an IANA zone or a 5-digit ZIP from the CRM; raise UsageError if neither.

    Digits of any script are read as ASCII, as in numbers; a reason never repeats a digit
    run that could be a phone number (a CRM field may hold one).
    """
    try:
        text = ascii_digits(text.strip())
    except NumberError:
        raise UsageError(f"location {redact_digits(text.strip())!r} holds a character that "
                         "is not a decimal digit") from None
    match = _ZIP_RE.match(text)
    if match:
        zip5 = match.group(1)
        state = state_for_zip(zip5)
        if state is None:
            raise UsageError(f"ZIP code {zip5} is not assigned to any US state")
        zones = zones_for_state(state)
        if not zones:
            raise UsageError(f"ZIP code {zip5} ({state}) has no known time zone")
        return Location(zip5, zones, state)
    if "/" in text:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"unknown time zone {redact_digits(text)!r}; use an IANA name "
                             "such as America/Denver") from None
        return Location(text, (text,), None)
    raise UsageError(
        f"location {redact_digits(text)!r} is neither an IANA time zone (e.g. America/Denver) "
        "nor a 5-digit ZIP code"
    )
