"""Instants as text, in one notation across callguard: ISO 8601, a zero offset as ``Z``.

The records, `tail` and the archive write ``2026-12-04T17:30:00.012Z``; `report` said
``+00:00`` (Python's ``isoformat``) beside them, and so did `check --json`, `evidence
--json` and `purge --json`. What a command shows or returns in UTC goes through ``zulu``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["YEARS", "leap_second", "out_of_years", "utah_offset", "zone_named", "zulu"]

# The years (UTC) a call's instant may be asked about, on every front: HTTP's `at` (400)
# and the CLI's `--at` (exit 2). Past them no pack is in force anyway; near the ends of
# `datetime` an instant has no local time (0001-01-01T00:00+14:00 is before year 1 in UTC)
# and `check --at` was an internal error there while HTTP refused it.
YEARS = (1900, 2999)

# 23:59:60: RFC 3339 5.6 spells a leap second, `datetime` cannot hold it.
_LEAP_SECOND = re.compile(r"[Tt ]\d\d:?\d\d:?60(?![0-9])")


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone ``name`` names, or None. zoneinfo says "no such zone" three ways:
    ZoneInfoNotFoundError, ValueError (a malformed key) and OSError (a tzdata directory
    such as "America" or "America/Argentina", a name too long); each caller caught a
    different subset (an OSError was an internal error, a 500, a BLOCK reason)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def zulu(instant: datetime, timespec: str = "auto") -> str:
    """``instant`` in ISO 8601 with a zero offset written ``Z``, as the records write it:
    `report` said ``+00:00`` beside `tail`'s and the log's ``Z`` (one notation across
    commands). Another offset is kept (a report in America/Denver says ``-07:00``)."""
    text = instant.isoformat(timespec=timespec)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def utah_offset(naive: datetime) -> str:
    """Denver's UTC offset at that wall time, for the example an error message gives when a
    time came without one: a fixed example (-06:00, or -07:00) was an hour off half the
    year (a December 10:30 copied from it was asked as 09:30 MST)."""
    offset = naive.replace(tzinfo=ZoneInfo("America/Denver")).utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def out_of_years(instant: datetime) -> bool:
    """Whether an aware ``instant`` falls outside ``YEARS`` in UTC (or outside what
    ``datetime`` can hold there)."""
    try:
        year = instant.astimezone(UTC).year
    except OverflowError:  # 0001-01-01T00:00+14:00, 9999-12-31T23:00-07:00
        return True
    return not YEARS[0] <= year <= YEARS[1]


def leap_second(text: str) -> str | None:
    """The second before it when ``text`` (refused by ``fromisoformat``) names a leap
    second, ``2026-12-31T23:59:60Z`` -> ``2026-12-31T23:59:59Z``; else None."""
    match = _LEAP_SECOND.search(text)
    if match is None:
        return None
    return text[:match.end() - 2] + "59" + text[match.end():]
