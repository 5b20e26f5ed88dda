"""Turn what a user pastes or a dialplan passes into E.164, or say why not.

Accepted: ``8015550123``, ``18015550123``, ``+1 (801) 555-0123``, ``801.555.0123``,
``tel:+1-801-555-0123``, ``sip:+18015550123@pbx;user=phone``, a site dial prefix
(``9`` + number) and ``011`` + an international number. NANP numbers take the
NPA-NXX fast path; anything else goes through ``phonenumbers.parse``.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone

from callguard.errors import NumberError
from callguard.numbers.nanp import GEOGRAPHIC_TYPES, ExchangeInfo, NanpTable

__all__ = ["NumberInfo", "NumberParser"]

_PUNCTUATION = frozenset(" -.()/\t")
_MAX_INPUT = 64
_E164_MAX_DIGITS = 15
_NANP_DIGITS = 10


@dataclass(frozen=True, slots=True)
class NumberInfo:
    """A dialable number and what is known of its place."""

    e164: str
    region: str
    national: int  # the 10-digit NANP number as an integer (the DNC bitmap key); 0 elsewhere
    zones: tuple[str, ...]
    geographic: bool
    possibly_wireless: bool

    @property
    def area_code(self) -> int | None:
        """The NPA of a NANP number."""
        return self.national // 10_000_000 if self.national else None

    @property
    def last4(self) -> str:
        """The last four digits, the only part of a number a log may show."""
        return self.e164[-4:]


def _strip_uri(text: str) -> str:
    lowered = text[:5].lower()
    if lowered.startswith("tel:"):
        return text[4:].split(";", 1)[0]
    if lowered.startswith(("sip:", "sips:")):
        user = text.split(":", 1)[1].split("@", 1)[0]
        return user.split(";", 1)[0]
    return text


class NumberParser:
    """Parses numbers for one site: its dial prefixes and the regions it may call."""

    __slots__ = ("_dial_prefixes", "_regions", "_table")

    def __init__(
        self,
        *,
        dial_prefixes: tuple[str, ...] = (),
        regions: frozenset[str] = frozenset({"US"}),
        table: NanpTable | None = None,
    ) -> None:
        self._dial_prefixes = tuple(sorted(dial_prefixes, key=len, reverse=True))
        self._regions = regions
        self._table = table if table is not None else NanpTable()

    @property
    def regions(self) -> frozenset[str]:
        """The regions (ISO 3166) this site may call; CRM locations are checked against it."""
        return self._regions

    def parse(self, raw: str) -> NumberInfo:
        """Return the number's E.164 form and place; raise NumberError with the reason."""
        text = raw.strip()
        if not text:
            raise NumberError("no number given")
        if len(text) > _MAX_INPUT:
            raise NumberError(f"number is {len(text)} characters long; at most {_MAX_INPUT}")
        body = _strip_uri(text).strip()
        plus = body.startswith("+")
        if plus:
            body = body[1:]
        bad = {c for c in body if not c.isdigit() and c not in _PUNCTUATION}
        if bad:
            if any(c.isalpha() for c in bad):
                raise NumberError(
                    f"{raw.strip()!r} contains letters; dial vanity numbers as digits"
                )
            raise NumberError(f"{raw.strip()!r} contains {''.join(sorted(bad))!r}")
        digits = "".join(c for c in body if c.isdigit())
        if not digits:
            raise NumberError(f"{raw.strip()!r} has no digits")
        if not plus:
            digits, plus = self._strip_prefixes(digits)
        national = self._nanp_national(digits, plus)
        if national is not None:
            return self._from_nanp(national)
        return self._from_international(digits, plus)

    def _strip_prefixes(self, digits: str) -> tuple[str, bool]:
        for prefix in self._dial_prefixes:
            rest = digits[len(prefix):]
            if digits.startswith(prefix) and (
                len(rest) == _NANP_DIGITS or (len(rest) == 11 and rest[0] == "1")
                or rest.startswith("011")
            ):
                digits = rest
                break
        if digits.startswith("011"):
            return digits[3:], True
        return digits, False

    @staticmethod
    def _nanp_national(digits: str, plus: bool) -> str | None:
        if plus:
            return digits[1:] if len(digits) == 11 and digits[0] == "1" else None
        if len(digits) == _NANP_DIGITS:
            return digits
        if len(digits) == 11 and digits[0] == "1":
            return digits[1:]
        if len(digits) < _NANP_DIGITS:
            raise NumberError(
                f"only {len(digits)} digits; a US number has 10 (area code + 7 digits)"
            )
        if len(digits) > _E164_MAX_DIGITS:
            raise NumberError(f"{len(digits)} digits is too long for any phone number")
        raise NumberError(
            f"{len(digits)} digits is not a US number; international numbers need + or 011"
        )

    def _from_nanp(self, national: str) -> NumberInfo:
        if national[0] in "01":
            raise NumberError(f"area code {national[:3]} cannot start with {national[0]}")
        value = int(national)
        info = self._table.lookup(value)
        e164 = "+1" + national
        self._check(info, e164)
        assert info.region is not None
        return NumberInfo(
            e164, info.region, value, info.zones, info.geographic, info.possibly_wireless
        )

    def _check(self, info: ExchangeInfo, e164: str) -> None:
        if not info.valid:
            raise NumberError(
                f"{e164} is not a valid number: exchange {e164[2:5]}-{e164[5:8]} "
                "is not in service in the numbering plan"
            )
        if info.region not in self._regions:
            allowed = ", ".join(sorted(self._regions))
            raise NumberError(f"{e164} is in region {info.region}; this site dials {allowed}")

    def _from_international(self, digits: str, plus: bool) -> NumberInfo:
        if len(digits) > _E164_MAX_DIGITS:
            raise NumberError(f"{len(digits)} digits is too long for any phone number")
        if not plus:
            raise NumberError(f"{digits!r} is not a US number; international numbers need +")
        try:
            parsed = phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException as exc:
            raise NumberError(f"+{digits} is not a phone number: {exc}") from None
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        number_type = phonenumbers.number_type(parsed)
        zones = tuple(
            z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"
        )
        info = ExchangeInfo(
            phonenumbers.is_valid_number(parsed),
            phonenumbers.region_code_for_number(parsed),
            number_type,
            zones,
        )
        self._check(info, e164)
        assert info.region is not None
        return NumberInfo(
            e164, info.region, 0, zones, number_type in GEOGRAPHIC_TYPES,
            number_type not in (PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE),
        )
