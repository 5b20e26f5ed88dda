"""Text that may reach a log, with every possible phone number taken out.

Utah Code 13-44-201 asks for reasonable procedures to protect personal information;
ARCHITECTURE.md: no phone number in clear reaches any log. Peers put numbers where no one
expects them (a dialplan swapping NUMBER and CAMPAIGN, a reason repeating rejected input),
so any free text bound for a log passes through ``redact_digits`` first: a run of
``MIN_RUN`` or more digits — ASCII or any other script's (full-width, Arabic-Indic,
superscript, ...), optionally split by the punctuation people write numbers with — becomes
``[number …NNNN]``, keeping only the last four digits (in ASCII), which a log may show.
What is structurally not a phone number stays readable (``_KEPT``: a date, a time, an IPv4
address, a statute citation, a pack version), unless a number runs into it: then the
number wins.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MIN_RUN", "clipped", "clipped_repr", "has_digit_run", "redact_digits"]

MIN_RUN = 7  # the shortest local number (NXX-XXXX); shorter runs are times, counts, codes

# Shapes that are structurally not phone numbers, kept readable: they end a run, they are
# never part of one. Only whole ones, with no digit after them (otherwise "8015-55-0100"
# held the date-shaped "8015-55-01" and left the rest in clear) and — the phone number
# wins — none that a digit reaches from the left, directly or through a run's separators,
# or that a "+" starts (``_joined_before``), nor one a digit follows through invisible
# characters (``_joined_after``): "80155501:00", "801 555 01:00",
# "801 555.0123(4)" and "+2026.12.5" are runs, a colon in them included. ASCII only.
# - ISO dates and clock times a reason states ("08:30 Mon 2026-11-23");
# - an IPv4 dotted quad, groups 0-255, with its port ("10.200.100.201:5060": a refused
#   peer, an AMI host; a PBX admin needs it). No NANP or E.164 spelling is four groups
#   of at most three digits ("801.555.0123" has a four-digit group: a run);
# - a statute citation, digits.digits then parenthesised subsections ("501.059(8)(a)",
#   "64.1200(c)(2)"): a phone number is not followed by "(a)", but a peer may write one
#   so: never 3.4 digits, a local number's NXX-XXXX ("555.0123(a)" is a run), and a
#   subsection is letters or at most two digits ("(8)", "(12)"): "1.200(200) 00:00" is
#   1-200-200-0000 written with a dot, parentheses and a clock's colon, not a citation;
# - a pack version year.month.n ("2026.12.5").
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_KEPT = re.compile(
    r"(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:\d{2})?|\d{1,2}:\d{2}(?::\d{2})?"
    rf"|(?:{_OCTET}\.){{3}}{_OCTET}(?::\d{{1,5}})?"
    r"|(?:\d{1,2}\.\d{1,4}|\d{3}\.\d{1,3}|\d{4}\.\d{1,4})(?:\((?:\d{1,2}|[A-Za-z]{1,5})\))+"
    r"|20\d{2}\.(?:1[0-2]|0?[1-9])\.\d{1,3})(?!\d)(?!\.\d)", re.ASCII)
# A NANP number grouped 3-3-4 with punctuation that is no separator of a run (commas,
# semicolons, colons: "801,555,0100" from a CSV split, "801;555;0100"), a 1 or +1 before
# it. The shape is the test, so counts ("1,234,567": groups of three) and lists of area
# codes stay; digits on either side make it part of something longer, left to the run
# pass. A dot-and-digit does not: the number wins ("v2.801;555;0100", "801,555,0100.5"
# were left whole). A space may stand on either side of
# the punctuation ("801 , 555 , 0100"). A clock-shaped last group ("801,555,01:00") is
# the number's, not a time.
_PUNCT = r"\s?[^\w\s]{1,2}\s?"
_GROUPED = re.compile(
    rf"(?<!\d)(?:\+?1{_PUNCT}|\+?1 )?\d{{3}}{_PUNCT}\d{{3}}{_PUNCT}(\d{{4}}|\d\d:\d\d)"
    r"(?!\d)")
# What people write between the digits of a phone number (at most ``_GAP`` in a row, so
# "801 - 555 - 0100" is one run): these, any Unicode dash or space (an en dash, a minus
# sign, the narrow no-break space of typeset numbers), control characters but line breaks
# (a NUL a peer put between digits). Characters a reader does not see
# (zero-width spaces, soft hyphens, combining marks: Unicode Cf, Mn, Me) are skipped
# without counting: a peer must not hide a number from the redaction by adding them.
_SEPARATORS = frozenset(" ().-/+_\u00a0\u2212\x7f"
                        + "".join(chr(c) for c in range(32) if chr(c) not in "\n\r"))
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Zs"})
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_GAP = 3


def _digit(char: str) -> int | None:
    """The digit a character stands for, in any script (superscripts and circled too)."""
    if "0" <= char <= "9":
        return ord(char) - 48
    if char.isascii():
        return None
    value = unicodedata.digit(char, None)
    return value if value is not None and 0 <= value <= 9 else None


def _gap_width(char: str) -> int | None:
    """How much of a run's gap ``char`` takes: 1 a separator, 0 invisible, None neither."""
    if char in _SEPARATORS:
        return 1
    if char.isascii():
        return None
    category = unicodedata.category(char)
    if category in _INVISIBLE_CATEGORIES:
        return 0
    return 1 if category in _SEPARATOR_CATEGORIES else None


def _kept(text: str) -> tuple[set[int], set[int]]:
    """Indexes of the ``_KEPT`` shapes in ``text`` that no number reaches into, and of the
    colons of those a number does reach: these join the run ("801 555 01:00" is one)."""
    kept: set[int] = set()
    joins: set[int] = set()
    for match in _KEPT.finditer(text):
        if _joined_before(text, match.start(), kept) or _joined_after(text, match.end()):
            joins.update(i for i in range(match.start(), match.end()) if text[i] == ":")
        else:
            kept.update(range(match.start(), match.end()))
    return kept, joins


def _joined_before(text: str, start: int, kept: set[int]) -> bool:
    """Whether a run reaches ``start`` from the left: a "+" just before it, or a digit
    (not of a shape already kept) through at most ``_GAP`` separators."""
    if start and text[start - 1] == "+":
        return True
    gap = 0
    for index in range(start - 1, -1, -1):
        if index in kept:
            return False
        char = text[index]
        if _digit(char) is not None:
            return True
        width = _gap_width(char)
        if width is None:
            return False
        gap += width
        if gap > _GAP:
            return False
    return False


def _joined_after(text: str, end: int) -> bool:
    """Whether a digit of any script follows ``end``, invisible characters skipped
    (``_KEPT`` itself sees ASCII digits only): "10.200.100.2\u200b01" is a run."""
    for char in text[end:]:
        if _digit(char) is not None:
            return True
        if _gap_width(char) != 0:
            return False
    return False


def _runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, ASCII digits) of every digit run, separators allowed inside."""
    runs: list[tuple[int, int, str]] = []
    barriers, joins = _kept(text)
    start = -1
    last = -1
    digits: list[str] = []
    gap = 0
    for index, char in enumerate(text):
        value = None if index in barriers else _digit(char)
        if value is not None:
            if start < 0:
                start = index
            digits.append(chr(48 + value))
            last = index
            gap = 0
        elif start < 0:
            continue
        elif ((width := 1 if index in joins else _gap_width(char)) is not None
              and gap + width <= _GAP):
            gap += width
        else:
            runs.append((start, last + 1, "".join(digits)))
            start, digits, gap = -1, [], 0
    if start >= 0:
        runs.append((start, last + 1, "".join(digits)))
    return runs


def redact_digits(text: str) -> str:
    """``text`` with every run of ``MIN_RUN``+ digits, and every number grouped 3-3-4
    with other punctuation, replaced by ``[number …last4]``."""
    if sum(char.isdigit() for char in text) < MIN_RUN:  # isdigit: every script's digits
        return text
    # Grouped numbers first: a run pass first took "10.0.0.1.801" and left ",555,0100".
    # Not inside a kept shape: "192.168.100.201:5060" ends with "100.201:5060".
    if _GROUPED.search(text) is not None:
        kept = _kept(text)[0]
        text = _GROUPED.sub(lambda match: _grouped(match, kept), text)
    pieces: list[str] = []
    cursor = 0
    for first, end, digits in _runs(text):
        if len(digits) >= MIN_RUN:
            start = first - 1 if first > cursor and text[first - 1] == "+" else first
            pieces.append(text[cursor:start])
            pieces.append(f"[number …{digits[-4:]}]")
            cursor = end
    if pieces:
        pieces.append(text[cursor:])
        text = "".join(pieces)
    return text


def _grouped(match: re.Match[str], kept: set[int]) -> str:
    """A grouped number as a run is shown: its last four digits, in ASCII; left as it is
    if wholly inside a kept shape."""
    if _inside(match, kept):
        return match.group()
    last4 = "".join(chr(48 + unicodedata.decimal(c)) for c in match.group(1) if c != ":")
    return f"[number …{last4}]"


def has_digit_run(text: str) -> bool:
    """Whether ``text`` holds a run that ``redact_digits`` would take out."""
    if any(len(digits) >= MIN_RUN for _, _, digits in _runs(text)):
        return True
    grouped = list(_GROUPED.finditer(text))
    if not grouped:
        return False
    kept = _kept(text)[0]
    return any(not _inside(match, kept) for match in grouped)


def _inside(match: re.Match[str], kept: set[int]) -> bool:
    """Whether a grouped number lies wholly inside kept shapes ("100.201:5060" of an
    address with its port): not a number."""
    return all(index in kept for index in range(match.start(), match.end()))


def clipped(value: str, limit: int) -> str:
    """``value`` as an answer or a log may quote it: at most ``limit`` characters, a
    number in it by its last four (``redact_digits``). A longer value loses its tail back
    to its last letter (no run holds a letter) and says so: cut at the limit first and
    redacted after, a number the cut fell inside kept its first digits in clear —
    ``x…x8015550123`` quoted ``x…x801555``, six digits, one short of a run."""
    if len(value) <= limit:
        return redact_digits(value)
    end = limit
    while end and not value[end - 1].isalpha():
        end -= 1
    return redact_digits(value[:end]) + "\u2026"


def clipped_repr(value: str, limit: int) -> str:
    """``value`` quoted as ``repr`` writes it, at most ``limit`` characters, ``clipped``.

    ``repr`` first, redaction after: ``repr`` spells a character that is not printable by
    its code point in ASCII digits, so redacted first and spelt after, "x\\U00080155" +
    "50123" (five digits, no run) was quoted 'x\\U0008015550123', a number in clear
    (hrev67). Bounded: at most ``limit + 1`` characters are spelt (each is one or more)."""
    return clipped(repr(value[:limit + 1]), limit)
