"""Turn what a user pastes or a dialplan passes into E.164, or say why not.

Accepted: ``8015550123``, ``18015550123``, ``+1 (801) 555-0123``, ``801.555.0123``,
``tel:+1-801-555-0123``, ``sip:+18015550123@pbx;user=phone``, a site dial prefix
(``9`` + number) and ``011`` + an international number. NANP numbers take the
NPA-NXX fast path; anything else goes through ``phonenumbers.parse``.

One canonical form: E.164 in ASCII digits, made here and nowhere else. Digits of any
script (full-width U+FF18, Arabic-Indic U+0668, NKo, Devanagari, mathematical monospace, ...:
every character Unicode calls a *decimal* digit, category Nd) are read as the ASCII digit
they stand for, as libphonenumber does — a person's number is the same number whatever
script it was typed in, so a listed number cannot walk past its list by being written in
another script, and an opt-out binds the ASCII number. Characters that only look like
digits (superscripts, circled or parenthesised numbers: not decimal digits) are refused.
A reason never repeats the input's digits in clear (``redact_digits``): it reaches logs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as pn_timezone

from callguard.errors import NumberError
from callguard.frozen import quick_init
from callguard.numbers.nanp import (
    GEOGRAPHIC_TYPES,
    ExchangeInfo,
    NanpTable,
    with_area_code_zones,
)
from callguard.numbers.redact import MIN_RUN, clipped_repr, redact_digits

__all__ = ["ExtensionError", "NumberInfo", "NumberParser", "ascii_digits", "in_phone_context",
           "is_canonical", "named_character", "number_reason", "number_text", "quoted_number",
           "split_extension"]

_PUNCTUATION = frozenset(" -.()/\t")
_ALLOWED = _PUNCTUATION | frozenset("0123456789")
_DROP_PUNCTUATION = str.maketrans("", "", "".join(_PUNCTUATION))
_PLUS = frozenset("+\uff0b")  # and the full-width plus that goes with full-width digits
_MAX_INPUT = 64
_E164_MAX_DIGITS = 15
_NANP_DIGITS = 10


@quick_init
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


class ExtensionError(NumberError):
    """A number written with an extension (``801-364-0188 x204``): ``line`` is the line's
    number. Refused all the same (the dialer would dial more than the line callguard
    checked), but the reason says so, and the record names the line (``evidence`` of the
    line finds it, ``tail`` shows the line's last four)."""

    def __init__(self, reason: str, line: NumberInfo) -> None:
        super().__init__(reason)
        self.line = line


# An extension after a number: "x204", "ext 204", "ext. 204", "extn 204", "extension 204",
# "#204" (space or not before it) and RFC 3966's ";ext=204" (phonenumbers reads these so
# too); at most 8 digits, as ``dnc import`` reads them (callguard.stores.list_files). It
# starts at its mark: a leading \s* searched from every position is quadratic (hrev58).
_EXTENSION = re.compile(
    r"(?:;\s*ext\s*=|(?:ext(?:ension|n)?\.?|x|#))\s*\d{1,8}\s*$", re.IGNORECASE)


# The mark glued between digits: "801-555-01X2" (phonenumbers reads "80155501" extension
# 2, an invalid number), not "801-555-012 x3" (an extension after a mistyped number).
_GLUED_MARK = re.compile(r"\d((?:ext(?:ension|n)?\.?|x))\d{1,8}\s*$", re.IGNORECASE)


def _inside_digits(raw: str) -> str | None:
    """Why a number whose extension mark sits inside its digits is refused, or None. Only
    called when the digits before the mark are no number: an extension follows the whole
    number (phonenumbers' rule too), so a letter inside a number is a typo, never an
    extension (it said "has an extension; without it, only 8 digits")."""
    text = ascii_digits(raw)
    glued = _GLUED_MARK.search(text)
    if glued is None:
        return None
    digits = "".join(c for c in text if "0" <= c <= "9")
    mark = glued.group(1)
    letters = "letter" if len(mark.rstrip(".")) == 1 else "letters"  # "ext": three
    return (f"'[number …{digits[-4:]}]' contains the {letters} {mark!r} inside its "
            "digits, which is no extension (an extension follows the whole number: "
            "NUMBER x204); a letter in a number is a typo: check the number")


def split_extension(text: str) -> tuple[str, str]:
    """``text`` without an extension after its number, and the extension's digits (``""``
    when there is none: ``text`` is then returned as it is). Digits of any script are read
    as ASCII first (``ascii_digits``); a text that holds a non-digit lookalike has none.
    A ``tel:``/``sip:`` URI's extension is its ``;ext=`` parameter (RFC 3966 §3), read
    unescaped, the URI returned without it."""
    if text.isascii():
        ascii_text = text
    elif any(c.isdigit() and unicodedata.decimal(c, None) is None for c in text):
        return text, ""  # ascii_digits refuses it (and quotes it through here: no call)
    else:
        ascii_text = ascii_digits(text)
    if ascii_text[:5].lower().startswith(_URI_SCHEMES):
        return _uri_extension(ascii_text)
    match = _EXTENSION.search(ascii_text)
    head = "" if match is None else ascii_text[:match.start()].rstrip()
    if match is None or not any(c.isdigit() for c in head):
        return text, ""
    return head, "".join(c for c in match.group() if c.isdigit())


def _uri_extension(uri: str) -> tuple[str, str]:
    scheme, _, rest = uri.partition(":")
    user, at, host = rest.partition("@")
    number, _, params = user.partition(";")
    kept, extension = [number], ""
    for param in params.split(";") if params else ():
        name, _, value = unquote(param, errors="replace").partition("=")
        if name.strip().lower() == "ext" and not extension:
            extension = "".join(c for c in value if c.isdigit()) or value
        else:
            kept.append(param)
    if not extension:
        return uri, ""
    return f"{scheme}:{';'.join(kept)}{at}{host}", extension


def is_canonical(e164: str) -> bool:
    """Whether ``e164`` is the canonical form this module makes: + and 8-15 ASCII digits.

    Stores check it before they key anything by a number, so a write that did not come
    through ``NumberParser`` cannot create a record that no lookup would find.
    """
    digits = e164[1:]
    return (e164[:1] == "+" and digits.isascii() and digits.isdigit()
            and 8 <= len(digits) <= _E164_MAX_DIGITS and digits[0] != "0")


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script replaced by its ASCII digit.

    Raises NumberError for a character that is a digit but not a decimal one
    (superscripts, circled digits): it is not a digit anyone dials.
    """
    if text.isascii():
        return text
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        value = unicodedata.decimal(char, None)
        if value is not None:
            out.append(chr(48 + value))
        elif char.isdigit():
            name = unicodedata.name(char, f"U+{ord(char):04X}").lower()
            raise NumberError(f"{quoted_number(text)} contains {name}, which is not a decimal "
                              "digit; write the number in ordinary digits")
        else:
            out.append(char)
    return "".join(out)


def named_character(char: str) -> str:
    """A character as a reason names it: ``'#'``, or ``U+00A0 NO-BREAK SPACE`` for one that
    prints as nothing or as an ordinary space (its repr said ``'\xa0'``)."""
    if char.isascii() and char.isprintable():
        return repr(char)
    return f"U+{ord(char):04X} {unicodedata.name(char, '')}".strip()


def quoted_number(raw: str, limit: int | None = None) -> str:
    """The input as a reason may quote it: digit runs reduced to their last four. What is
    given as a number is one, however it is split ("801:555:01;00") or mistyped
    ("801555O101"): if the runs leave ``MIN_RUN`` digits in all, the whole input is shown
    as its last four. A list file's malformed lines are quoted so too (each line is given as
    a number; the report reaches cron mail). ``limit`` cuts what is shown, after the
    redaction: the input cut first kept the first digits of a number the cut fell inside
    ("…8015550123" cut after "801555": six digits in clear, one short of a run). Redacted
    again once ``repr`` has spelt it: ``repr`` writes an unprintable character's code point
    in ASCII digits, and "x\\U00080155" + "50123" was quoted 'x\\U0008015550123' (hrev76)."""
    return redact_digits(repr(number_text(raw, limit)))


def number_reason(quoted: str, reason: str) -> str:
    """"number QUOTED: REASON", unless REASON names the number itself, quoted or by its
    mark ("[number …0958] is in region GB"): then "number REASON" or REASON alone. The
    one wording of a refused number: the CLI's and a record CSV row's (which quoted it
    twice, "number 'x': 'x' contains letters", hcli32)."""
    mark = re.search(r"\[number …[^\]]*\]", quoted)
    names = [quoted] + ([mark.group()] if mark else [])
    if reason.startswith(tuple(names)):
        return f"number {reason}"
    return reason if any(name in reason for name in names) else f"number {quoted}: {reason}"


def number_text(raw: str, limit: int | None = None) -> str:
    """``quoted_number`` before ``repr`` spells it: for a reason that quotes the input as one
    field of a longer text (a list file's ``NUMBER,DATE`` line), which it then spells whole,
    once (spelt twice, a control character read as a backslash the file does not hold)."""
    head, extension = split_extension(raw.strip())
    if extension:  # the line's last four, the extension's digits no part of them (hnew25:
        if head[:5].lower().startswith(_URI_SCHEMES):  # its number, not its parameters
            head = head.partition(":")[2].partition("@")[0].partition(";")[0]
        digits = [c for c in head if "0" <= c <= "9"]  # "801-364-0188 x204" was "…8204")
        if len(digits) >= MIN_RUN:
            return f"[number …{''.join(digits[-4:])} x…]"
    shown = redact_digits(raw.strip())
    digits = [c for c in shown if unicodedata.digit(c, None) is not None]
    if len(digits) >= MIN_RUN:
        return f"[number …{''.join(str(unicodedata.digit(c)) for c in digits[-4:])}]"
    if limit is not None and len(shown) > limit:
        shown = shown[:limit] + "\u2026"
    return shown


_VISUAL = str.maketrans("", "", "-.()")


def in_phone_context(user: str) -> str:
    """The number a URI's user part (``tel:`` body, or a ``user=phone`` SIP user) names,
    its parameters cut off — with its ``phone-context`` applied (RFC 3966 §5.1.5, RFC 3261
    §19.1.6): a local number is a number only within its context. ``8015550123;phone-
    context=+44`` is +44 8015550123 (the region check refuses it), not a US number;
    ``5550123;phone-context=+1-801`` is +1 801 555 0123. A context that is a domain names a
    private plan callguard cannot read: the text is kept whole, so the gate refuses it.
    A global number (``+…``) ignores its context."""
    number, _, params = user.partition(";")
    if not params or number.startswith("+"):
        return number
    for param in params.split(";"):
        # Read escaped: a SIP user part may %-escape any character, and an escaped
        # unreserved one is that character (RFC 3261 §19.1.4): ``phone%2Dcontext=%2B44``
        # is the +44 context, not a parameter to skip (that read +44 8015550123 as
        # +1 801 555 0123 and redirected the call to a US subscriber nobody asked about).
        name, _, value = unquote(param, errors="replace").partition("=")
        if name.strip().lower() != "phone-context":
            continue
        value = value.strip()
        if value.startswith("+") and "%" not in value:  # decoded once, never twice
            return "+" + value[1:].translate(_VISUAL) + number.translate(_VISUAL)
        return user  # a domain's private numbering plan
    return number


_URI_SCHEMES = ("tel:", "sip:", "sips:")


def _strip_uri(text: str) -> str:
    lowered = text[:5].lower()
    if lowered.startswith("tel:"):
        return in_phone_context(text[4:])
    if lowered.startswith(_URI_SCHEMES[1:]):
        return in_phone_context(text.split(":", 1)[1].split("@", 1)[0])
    return text


def _private_plan(raw: str, user: str) -> str:
    """Why a URI's local number with a context callguard cannot apply is refused (it
    said "contains letters; dial vanity numbers as digits", of the context's domain)."""
    context = next((unquote(p, errors="replace").partition("=")[2].strip()
                    for p in user.split(";")[1:]
                    if unquote(p, errors="replace").partition("=")[0].strip().lower()
                    == "phone-context"), "")
    return (f"{quoted_number(raw)} is a local number of the numbering plan "
            f"{clipped_repr(context, 60)} (its phone-context), which callguard cannot "
            "read; send the number in global form (+1 and 10 digits)")


class NumberParser:
    """Parses numbers for one site: its dial prefixes and the regions it may call."""

    __slots__ = ("_dial_prefixes", "_regions", "_table", "_zones")

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
        self._zones: dict[int, tuple[str, ...]] = {}  # per exchange, area code added

    @property
    def regions(self) -> frozenset[str]:
        """The regions (ISO 3166) this site may call; CRM locations are checked against it."""
        return self._regions

    def parse(self, raw: str) -> NumberInfo:
        """Return the number's E.164 form and place; raise NumberError with the reason
        (ExtensionError, carrying the line's number, for a number with an extension)."""
        national = self._plain_nanp(raw)
        if national is not None:
            return self._from_nanp(national)
        head, extension = split_extension(raw)
        if not extension or len(raw.strip()) > _MAX_INPUT:
            return self._parse(raw)
        try:
            line = self._parse(head)
        except NumberError as exc:
            if sum(c.isdigit() for c in head) < MIN_RUN:  # "801555x0123": no line before it
                return self._parse(raw)
            inside = _inside_digits(raw)
            if inside is not None:
                raise NumberError(inside) from None
            raise NumberError(f"{quoted_number(raw)} has an extension; without it, "
                              f"{exc}") from None
        # A URI's ;ext= too (tel:8013640188;ext=204): read here, outside SIP (whose 302
        # names the line it checked), it was ALLOWed as the line while the dialer kept
        # the URI, extension and all.
        raise ExtensionError(
            f"{quoted_number(raw)} has an extension, which callguard does not check and "
            "the dialer would dial as more than the line's number; check and dial the "
            "line's number without it", line)

    def _parse(self, raw: str) -> NumberInfo:
        """The full path (``parse`` has tried the ``_plain_nanp`` shortcut, which reaches
        the answer this path reaches)."""
        text = raw.strip()
        if not text:
            raise NumberError("no number given")
        if len(text) > _MAX_INPUT:
            raise NumberError(f"number is {len(text)} characters long; at most {_MAX_INPUT}")
        stripped = _strip_uri(text).strip()
        if ";" in stripped and text[:5].lower().startswith(_URI_SCHEMES):
            raise NumberError(_private_plan(raw, stripped))
        body = ascii_digits(stripped)
        plus = body[:1] in _PLUS
        if plus:
            body = body[1:]
        bad = set(body) - _ALLOWED
        if bad:
            if any(c.isalpha() for c in bad):
                raise NumberError(
                    f"{quoted_number(raw)} contains letters; dial vanity numbers as digits"
                )
            shown = ", ".join(named_character(c) for c in sorted(bad))
            raise NumberError(f"{quoted_number(raw)} contains {shown}; a number is written with "
                              "digits, a leading +, spaces and - . ( ) / only")
        digits = body.translate(_DROP_PUNCTUATION)  # only ASCII digits and punctuation left
        if not digits:
            raise NumberError(f"{quoted_number(raw)} has no digits")
        if not plus:
            digits, plus = self._strip_prefixes(digits)
        national = self._nanp_national(digits, plus)
        if national is not None:
            return self._from_nanp(national)
        return self._from_international(digits, plus)

    def _plain_nanp(self, raw: str) -> str | None:
        """The national number of what a dialplan passes — 10 ASCII digits, 1 + 10, or
        +1 + 10, after a site dial prefix when the site has some — or None for anything
        else, which takes the full path (this shortcut reaches the answer that path reaches,
        with less work)."""
        if not raw.isascii():
            return None
        size = len(raw)
        if self._dial_prefixes:
            if size == 12 and raw.startswith("+1"):  # a + is never a dial prefix's
                national = raw[2:]
                return national if national.isdigit() else None
            if size > _MAX_INPUT or not raw.isdigit():
                return None
            # ASCII digits alone: the full path's only step that changes them (the shipped
            # configuration has a prefix, so every dialplan number came here).
            digits, plus = self._strip_prefixes(raw)
            if plus:  # 011: international
                return None
            if len(digits) == _NANP_DIGITS:
                return digits
            return digits[1:] if len(digits) == 11 and digits[0] == "1" else None
        if size == _NANP_DIGITS:
            return raw if raw.isdigit() and not raw.startswith("011") else None
        if size == 11:
            return raw[1:] if raw[0] == "1" and raw.isdigit() else None
        if size == 12 and raw.startswith("+1"):
            national = raw[2:]
            return national if national.isdigit() else None
        return None

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
        zones = info.zones
        if info.geographic:
            exchange = value // 10_000
            zones = self._zones.get(exchange) or self._zones.setdefault(
                exchange, with_area_code_zones(info.zones, exchange // 1000))
        return NumberInfo(
            e164, info.region, value, zones, info.geographic, info.possibly_wireless
        )

    def _check(self, info: ExchangeInfo, e164: str) -> None:
        if not info.valid:
            raise NumberError(
                f"{redact_digits(e164)} is not a valid number: its exchange (area code "
                f"{e164[2:5]}) is not in service in the numbering plan"
            )
        if info.region not in self._regions:
            allowed = ", ".join(sorted(self._regions))
            raise NumberError(f"{redact_digits(e164)} is in region {info.region}; this site "
                              f"dials {allowed}")

    def _from_international(self, digits: str, plus: bool) -> NumberInfo:
        if len(digits) > _E164_MAX_DIGITS:
            raise NumberError(f"{len(digits)} digits is too long for any phone number")
        if not plus:
            raise NumberError(f"{quoted_number(digits)} is not a US number; international numbers "
                              "need +")
        try:
            parsed = phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException as exc:
            raise NumberError(
                f"{quoted_number('+' + digits)} is not a phone number: {exc}") from None
        if parsed.country_code == 1:
            # +1 and not 10 digits (``_nanp_national``): libphonenumber reads
            # ``+1 1 801 555 0123`` as +1 801 555 0123, dropping the second 1 as a
            # national prefix. Taken as an international number it kept no national
            # value (0), so no list held it: a do-not-call number was ALLOWed and
            # redirected to as +18015550123 (hnet20, tel:18015550123;phone-context=+1).
            raise NumberError(f"{quoted_number('+' + digits)} is not a phone number: after "
                              f"+1 a number has 10 digits (area code + 7), not {len(digits) - 1}")
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
