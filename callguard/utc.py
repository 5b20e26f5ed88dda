"""Instants as text, in one notation across callguard: ISO 8601, a zero offset as ``Z``.

The records, `tail` and the archive write ``2026-12-04T17:30:00.012Z``; `report` said
``+00:00`` (Python's ``isoformat``) beside them, and so did `check --json`, `evidence
--json` and `purge --json`. What a command shows or returns in UTC goes through ``zulu``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["utah_offset", "zone_named", "zulu"]


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
