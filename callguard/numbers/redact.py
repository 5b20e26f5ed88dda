"""Text that may reach a log, with every possible phone number taken out.

Utah Code 13-44-201 asks for reasonable procedures to protect personal information;
ARCHITECTURE.md: no phone number in clear reaches any log. Peers put numbers where no one
expects them (a dialplan swapping NUMBER and CAMPAIGN, a reason repeating rejected input),
so any free text bound for a log passes through ``redact_digits`` first: a run of
``MIN_RUN`` or more digits — ASCII or any other script's (full-width, Arabic-Indic,
superscript, ...), optionally split by the punctuation people write numbers with — becomes
``[number …NNNN]``, keeping only the last four digits (in ASCII), which a log may show.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MIN_RUN", "has_digit_run", "redact_digits"]

MIN_RUN = 7  # the shortest local number (NXX-XXXX); shorter runs are times, counts, codes

# ISO dates and clock times a reason states ("08:30 Mon 2026-11-23") are not numbers:
# they end a run, they are never part of one. Only whole ones, with no digit on either
# side: otherwise "8015-55-0100" held the date-shaped "8015-55-01" and left the rest in
# clear, and "80155501:00" the time-shaped "01:00".
_DATE_OR_TIME = re.compile(
    r"(?<!\d)(?:\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?:Z|[+-]\d{2}:\d{2})?|\d{1,2}:\d{2}(?::\d{2})?)(?!\d)")
# A NANP number grouped 3-3-4 with punctuation that is no separator of a run (commas,
# semicolons, colons: "801,555,0100" from a CSV split, "801;555;0100"), a 1 or +1 before
# it. The shape is the test, so counts ("1,234,567": groups of three) and lists of area
# codes stay; digits or a dot-and-digit on either side (an IP address, a version) make
# it part of something longer, left to the run pass. A space may stand on either side of
# the punctuation ("801 , 555 , 0100").
_PUNCT = r"\s?[^\w\s]{1,2}\s?"
_GROUPED = re.compile(
    rf"(?<!\d)(?<!\d\.)(?:\+?1{_PUNCT}|\+?1 )?\d{{3}}{_PUNCT}\d{{3}}{_PUNCT}(\d{{4}})(?!\d)"
    r"(?!\.\d)")
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


def _runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, ASCII digits) of every digit run, separators allowed inside."""
    runs: list[tuple[int, int, str]] = []
    barriers = {i for m in _DATE_OR_TIME.finditer(text) for i in range(m.start(), m.end())}
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
        elif (width := _gap_width(char)) is not None and gap + width <= _GAP:
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
    return _GROUPED.sub(_grouped, text)


def _grouped(match: re.Match[str]) -> str:
    """A grouped number as a run is shown: its last four digits, in ASCII."""
    last4 = "".join(chr(48 + unicodedata.decimal(c)) for c in match.group(1))
    return f"[number …{last4}]"


def has_digit_run(text: str) -> bool:
    """Whether ``text`` holds a run that ``redact_digits`` would take out."""
    return (any(len(digits) >= MIN_RUN for _, _, digits in _runs(text))
            or _GROUPED.search(text) is not None)
