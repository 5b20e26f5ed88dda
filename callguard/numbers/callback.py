"""Caller IDs no one can call back: NANP numbers that are never a subscriber's line.

47 CFR 64.1601(e)(1): the number a telemarketer transmits "must permit any individual to
make a do-not-call request during regular business hours". libphonenumber calls every
number below valid (its US patterns stop at NXX 2-9), so the configuration loads them and
the gate presents them; this table names them. Pure: a number in, a class or None out.

Every exchange class is of geographic area codes only (libphonenumber's fixed-line or mobile
types, as ``NumberInfo.geographic``): the CO code guidelines "apply only to the assignment
of CO codes (NXX) within geographic numbering plan areas (NPAs)" (ATIS-0300051's scope
section, as a standards reseller's page reproduces it), and
non-geographic codes (toll-free 8YY, 5XX, 6YY, 900) are assigned under guidelines of their
own (NANPA's 5XX page names ATIS-0300052), not read — so nothing there is listed.

What is listed, and how sure (secondary sources found with the search tool, 2026-12-05;
no NANPA or INC primary text was read — the Central Office Code Assignment Guidelines,
ATIS-0300051, that would settle the exchange classes, were not found in full):
- ``fictional``: NXX 555, lines 0100-0199, reserved for fictional use and never placed in
  service (several copies agree: a 1994 amendment of the plan; the other 555 lines were
  released for assignment).
- ``directory``: 555-1212, directory assistance ("in many places"): not the seller either way.
- ``n11-exchange``: NXX 211-911, the N11 service codes; only non-geographic codes
  (toll-free, 600, 900) use them as an exchange (copies of the N11 code article).
- ``n11-area-code``: 211-911 as the area code (the parser refuses these already).
- ``test-exchange``: NXX 958 and 959, reserved for plant test (Telcordia SR-2275 8.2.5, as
  cited in a copy of the plant test number article).
- ``carrier-access``: NXX 950 (Feature Group B carrier access): secondary sources only — the
  Wikipedia "Feature group" article ("the 950-XXXX access number is the same in every
  community, NANP-wide") and an ATIS ASOG ordering field for "the 950 access number(s)"
  of a FGB service; no INC text. A warning costs nothing if wrong; verify before it BLOCKs.
Not listed, on purpose: other 555 lines (some in service), 976 (information services in
the past, ordinary exchanges in many area codes today: not found either way), and 555,
N9X, 37X or 96X as area codes (libphonenumber refuses them: the parser says so already).
"""

from __future__ import annotations

from dataclasses import dataclass

from callguard.numbers.nanp import exchange_info_from_phonenumbers

__all__ = ["CITATION", "Unreachable", "unreachable"]

CITATION = "47 CFR 64.1601(e)(1)"
_N11 = frozenset(f"{n}11" for n in range(2, 10))
_EXCHANGES = {
    "950": ("carrier-access", "exchange 950 is Feature Group B carrier access, not a "
                              "subscriber's line"),
    "958": ("test-exchange", "exchange 958 is reserved for plant test"),
    "959": ("test-exchange", "exchange 959 is reserved for plant test"),
}


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Why no one can call this number back to make a do-not-call request."""

    kind: str  # fictional | directory | n11-exchange | n11-area-code | test-exchange | ...
    why: str  # words for an operator: the class's digits, never the whole number


def unreachable(e164: str) -> Unreachable | None:
    """The class of a NANP number (E.164, ``+1`` and 10 digits) no one can call back, or
    None (not NANP, or not a class listed here: not proof that it reaches the seller)."""
    if len(e164) != 12 or not e164.startswith("+1") or not e164[1:].isdigit():
        return None
    npa, nxx, line = e164[2:5], e164[5:8], e164[8:]
    if npa in _N11:
        return Unreachable("n11-area-code", f"area code {npa} is an N11 service code, "
                           "never an area code")
    # Not a geographic number (toll-free, 5XX, 6YY, 900, ...; what the parser calls
    # geographic, from libphonenumber, not a hand list that misses new codes): not listed.
    if not exchange_info_from_phonenumbers(e164[2:]).geographic:
        return None
    if nxx == "555" and "0100" <= line <= "0199":
        return Unreachable("fictional", "555-0100 to 555-0199 are reserved for fictional "
                           "use and never assigned to anyone")
    if nxx == "555" and line == "1212":
        return Unreachable("directory", "555-1212 is directory assistance, not the seller")
    if nxx in _N11:
        return Unreachable("n11-exchange", f"exchange {nxx} is an N11 service code, never "
                           "assigned as an exchange in a geographic area code")
    found = _EXCHANGES.get(nxx)
    return Unreachable(*found) if found else None
