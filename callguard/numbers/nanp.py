"""NPA-NXX table: phonenumbers' answers for a NANP number, memoised per exchange.

``phonenumbers.parse`` + validation + zone lookup costs ~44 µs, a ceiling near
22,000 checks/s. For the US, every validity pattern and every time-zone prefix
libphonenumber holds stops at the 6th national digit (NPA-NXX; the last four
digits are free), so one answer per exchange is exactly what phonenumbers would
say for any number in it. Some Caribbean regions (e.g. Barbados, ``246521[0-4]``)
go deeper, so only US answers are memoised; every other exchange asks phonenumbers
for the very number. ``tests/test_nanp_table.py`` proves the equality for every NPA-NXX.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone
from phonenumbers.tzdata import TIMEZONE_DATA

__all__ = ["ADDED_OVERLAYS", "OVERLAY_COMPLEXES", "SHALLOW_REGIONS", "ZONE_CORRECTIONS",
           "ExchangeInfo", "NanpTable", "area_code_zones", "exchange_info_from_phonenumbers",
           "with_area_code_zones"]

_UNKNOWN_ZONE = "Etc/Unknown"
_NOT_WIRELESS = frozenset({PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE})
GEOGRAPHIC_TYPES = frozenset(
    {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """What libphonenumber knows about one NPA-NXX (area code + exchange)."""

    valid: bool
    region: str | None
    number_type: int
    zones: tuple[str, ...]

    @property
    def geographic(self) -> bool:
        """True when the number belongs to a place, so its zones mean something."""
        return self.number_type in GEOGRAPHIC_TYPES

    @property
    def possibly_wireless(self) -> bool:
        """libphonenumber says FIXED_LINE_OR_MOBILE for every US number: assume wireless."""
        return self.number_type not in _NOT_WIRELESS


def exchange_info_from_phonenumbers(national: str) -> ExchangeInfo:
    """Ask phonenumbers about one 10-digit NANP number (the slow, reference path)."""
    parsed = phonenumbers.parse("+1" + national)
    valid = phonenumbers.is_valid_number(parsed)
    if not valid:
        return _added_overlay(national) or ExchangeInfo(False, None, PhoneNumberType.UNKNOWN,
                                                        ())
    zones = ZONE_CORRECTIONS.get(int(national[:3])) or tuple(
        z for z in pn_timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE)
    return ExchangeInfo(
        True,
        phonenumbers.region_code_for_number(parsed),
        phonenumbers.number_type(parsed),
        zones,
    )


# Area codes libphonenumber places in a zone that none of their territory is in, with the
# zones they are in: 689 (added in 2019 to 407 and 321, Orlando, Eastern time only) maps to
# America/Chicago alone in phonenumbers 9.0.43, so an 8:30 p.m. EDT call passed Florida's
# 8 p.m. limit as 7:30 p.m. For a site calling Canada: 474 (Saskatchewan, with 306 and
# 639; no DST) maps to Winnipeg, an hour ahead in summer, and 879 (with 709, Newfoundland
# and Labrador) to Puerto Rico's AST with St. John's. 684 (American Samoa, one zone,
# SST, no DST): phonenumbers knows the zone of some exchanges (633) and falls back to
# every one of the NANP's 42 for the others (733, 252, 258...), so a site calling the
# territory had every such call BLOCKed (found by an examiner, session 16). 907 (Alaska):
# phonenumbers places exchange 581 (Unalaska) in Pacific/Honolulu, a clock no Alaskan
# keeps: the State is in the Alaska zone but for the Aleutians west of 169 30' W, in the
# Hawaii-Aleutian zone (49 CFR 71.11, 71.12), and Alaska keeps daylight saving time (15
# U.S.C. 260a(a); only Hawaii exempted itself), so that part is America/Adak (HST/HDT).
# Honolulu stayed at UTC-10 in summer, and every 907 call before 10:00 AKDT was BLOCKed,
# an hour past the Aleutians' 8 a.m. (tests/test_time19_alaska.py).
# tests/test_numbers.py checks that each entry is still needed.
ZONE_CORRECTIONS: dict[int, tuple[str, ...]] = {
    474: ("America/Regina",),
    684: ("Pacific/Pago_Pago",),
    689: ("America/New_York",),
    879: ("America/Halifax", "America/St_Johns"),
    907: ("America/Adak", "America/Anchorage", "America/Juneau"),
}

# Area codes in service that phonenumbers 9.0.43 does not know (every number of them is
# invalid there, so every call was refused), with the code whose territory they overlay.
# 729 overlays 423 (East Tennessee: Chattanooga, the Tri-Cities; Eastern, and Central in
# parts of Van Buren and Sequatchie counties): ordered by the Tennessee Public Utility
# Commission on 2023-05-30, 10-digit dialing from 2025-08-05, numbers assigned from
# 2025-09-05 (the Commission's notice; delayed from early 2025 by Hurricane Helene). Read
# in the Commission's release and the press, not in a NANPA planning letter. An exchange
# of such a code is valid as the overlaid code's are (NXX 2-9, the last 4 digits free),
# possibly wireless, with the zones of its complex (both codes are in OVERLAY_COMPLEXES),
# so a call must be inside the window in every zone the overlaid code has.
# tests/test_numbers.py checks that phonenumbers still refuses each code (else the entry
# is stale: drop it and let phonenumbers answer). US codes only (the answer says region US).
ADDED_OVERLAYS: dict[int, int] = {729: 423}


def _added_overlay(national: str) -> ExchangeInfo | None:
    """phonenumbers' answer for a code of ``ADDED_OVERLAYS`` as it answers the overlaid
    code's (None for any other number, or an exchange that cannot exist)."""
    npa = int(national[:3])
    if npa not in ADDED_OVERLAYS or national[3] in "01":
        return None
    return ExchangeInfo(True, "US", PhoneNumberType.FIXED_LINE_OR_MOBILE, area_code_zones(npa))


SHALLOW_REGIONS = frozenset({"US"})  # regions whose patterns leave the last 4 digits free


class NanpTable:
    """US exchange answers keyed by NPA*1000+NXX, filled from phonenumbers on first use."""

    __slots__ = ("_deep", "_entries")

    def __init__(self) -> None:
        self._entries: dict[int, ExchangeInfo] = {}
        self._deep: set[int] = set()  # exchanges whose answer may depend on the line

    def lookup(self, national: int) -> ExchangeInfo:
        """Answer for a 10-digit national number given as an integer."""
        key = national // 10_000
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        if key not in self._deep:
            entry = exchange_info_from_phonenumbers(f"{key:06d}0000")
            if entry.region in SHALLOW_REGIONS:
                self._entries[key] = entry
                return entry
            self._deep.add(key)
        return exchange_info_from_phonenumbers(f"{national:010d}")

    def __len__(self) -> int:
        return len(self._entries)


# Overlay complexes: area codes assigned to the same territory (an overlay adds a code to
# an area, it does not split it), so a number of any code of a complex may be anywhere in
# the complex. libphonenumber places an overlay's exchanges from its own, younger data:
# 448 (added to 850, the Florida panhandle, in 2021) maps to Eastern time only, though the
# panhandle west of the Apalachicola River is Central; 364 (added to 270, western Kentucky,
# in 2014) maps to Eastern only, though most of 270 is Central. Listed: every US and
# Canadian complex with a code libphonenumber places in more than one zone (a site may
# list "CA" in regions; tests/test_numbers.py checks that the zones of each listed complex
# differ without this table; phonenumbers 9.0.43, 2026-12). An overlay added later is one
# more entry here. 604 is left out of British Columbia's: 778, 236 and 672 overlay it and
# 250, but the Lower Mainland is Pacific only.
OVERLAY_COMPLEXES: tuple[tuple[int, ...], ...] = (
    (208, 986),  # Idaho
    (270, 364),  # western Kentucky
    (541, 458),  # Oregon outside the Portland and Salem areas
    (812, 930),  # southern Indiana
    (850, 448),  # Florida panhandle
    (423, 729),  # East Tennessee (Central in part); 729 is in ADDED_OVERLAYS
    (250, 778, 236, 672),  # British Columbia (Mountain in the Kootenays and the Peace)
    (418, 581, 367),  # eastern Quebec (Atlantic on the Magdalen Islands)
)
_COMPLEX_OF = {npa: complex_ for complex_ in OVERLAY_COMPLEXES for npa in complex_}


def _exchange_zones(npa: int) -> set[str]:
    """Every zone libphonenumber places an exchange of area code ``npa`` in (or the
    corrected zones, ``ZONE_CORRECTIONS``)."""
    if npa in ZONE_CORRECTIONS:
        return set(ZONE_CORRECTIONS[npa])
    zones = set(_zones_by_npa().get(npa, ()))
    zones.discard(_UNKNOWN_ZONE)
    return zones


@cache
def _zones_by_npa() -> dict[int, frozenset[str]]:
    """libphonenumber's zones of every NANP prefix, by area code, in one pass over its
    table (one pass per area code cost 0.5 s for the 800 codes ``widest_area_codes``
    reads at every configuration load)."""
    found: dict[int, set[str]] = {}
    for key, zones in TIMEZONE_DATA.items():
        if len(key) >= 4 and key[0] == "1" and key[1:4].isdigit():
            found.setdefault(int(key[1:4]), set()).update(zones)
    return {npa: frozenset(zones) for npa, zones in found.items()}


@cache
def area_code_zones(npa: int) -> tuple[str, ...]:
    """Every time zone a number of area code ``npa`` may be in: the zones libphonenumber
    places any exchange of the code, or of any code overlaying the same territory, in.

    Its zones are per exchange (850-433 Central, 850-222 Eastern), but a number is not
    where its exchange is: wireless and ported numbers move, and the law asks for the
    called party's location (47 CFR 64.1200(c)(1); Fla. Stat. 501.059(8)(d) presumes only
    the area code). So a call must be inside the window in every zone of the area code,
    and of the codes that share its territory (``OVERLAY_COMPLEXES``).
    """
    zones: set[str] = set()
    for code in _COMPLEX_OF.get(npa, (npa,)):
        zones |= _exchange_zones(code)
    return tuple(sorted(zones))


def with_area_code_zones(zones: tuple[str, ...], npa: int) -> tuple[str, ...]:
    """``zones`` (the exchange's first) followed by the area code's other zones."""
    return zones + tuple(z for z in area_code_zones(npa) if z not in zones)
