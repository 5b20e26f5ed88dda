"""Instants as text, in one notation across callguard: ISO 8601, a zero offset as ``Z``.

The records, `tail` and the archive write ``2026-12-04T17:30:00.012Z``; `report` said
``+00:00`` (Python's ``isoformat``) beside them, and so did `check --json`, `evidence
--json` and `purge --json`. What a command shows or returns in UTC goes through ``zulu``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["YEARS", "leap_second", "out_of_years", "skipped", "utah_example", "utah_offset",
           "wall_instant", "zone_info", "zone_named", "zulu"]

# The years (UTC) a call's instant may be asked about, on every front: HTTP's `at` (400)
# and the CLI's `--at` (exit 2). Past them no pack is in force anyway; near the ends of
# `datetime` an instant has no local time (0001-01-01T00:00+14:00 is before year 1 in UTC)
# and `check --at` was an internal error there while HTTP refused it.
YEARS = (1900, 2999)

# 23:59:60: RFC 3339 5.6 spells a leap second, `datetime` cannot hold it.
_LEAP_SECOND = re.compile(r"[Tt ]\d\d:?\d\d:?60(?![0-9])")


# Every zone asked for, held for the process. zoneinfo keeps 8 zones strongly and the rest
# only while something references them: a site calling more than 8 zones re-read a tzdata
# file on each ``ZoneInfo(name)`` (38 us against 0.5 held, per call of the gate's local
# times, state dates and record). Bounded: only names zoneinfo accepted are kept.
_ZONES: dict[str, ZoneInfo] = {}


def zone_info(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, held once read (raises as it does for a name it does not know)."""
    found = _ZONES.get(name)
    if found is None:
        found = _ZONES[name] = ZoneInfo(name)
    return found


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone ``name`` names, or None. zoneinfo says "no such zone" three ways:
    ZoneInfoNotFoundError, ValueError (a malformed key) and OSError (a tzdata directory
    such as "America" or "America/Argentina", a name too long); each caller caught a
    different subset (an OSError was an internal error, a 500, a BLOCK reason)."""
    try:
        return zone_info(name)
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
    return _offset_text(naive.replace(tzinfo=ZoneInfo("America/Denver")).utcoffset())


def _offset_text(offset: timedelta | None) -> str:
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def utah_example(stem: str, naive: datetime) -> str:
    """``stem`` with Denver's offset at that wall time, and what it means there, for the
    example a message gives when a time came without an offset. On a clock-change day the
    wall time may not exist (02:30 on the spring Sunday: the example's instant is 03:30
    daylight time) or happen twice (01:30 on the autumn Sunday): "that time in Utah" said
    of either was wrong (htz22), so the example says which."""
    denver = ZoneInfo("America/Denver")
    first = naive.replace(tzinfo=denver, fold=0)
    second = naive.replace(tzinfo=denver, fold=1)
    one, two = first.utcoffset(), second.utcoffset()
    if one == two:
        return f"{stem}{_offset_text(one)} (that time in Utah, America/Denver, on that date)"
    wall = naive.strftime("%H:%M")
    if first.astimezone(UTC).astimezone(denver).replace(tzinfo=None) != naive:
        # a wall time in the spring gap: no instant has it; fold=0 reads it in standard time
        shown = first.astimezone(UTC).astimezone(denver).strftime("%H:%M %Z")
        return (f"{stem}{_offset_text(one)} ({wall} did not happen in Utah, America/Denver, "
                f"on that date: the clocks went forward an hour; this instant is {shown} "
                "there)")
    return (f"{stem}{_offset_text(one)} or {stem}{_offset_text(two)} ({wall} happened twice "
            "in Utah, America/Denver, on that date: first in daylight time, then, after the "
            "clocks went back, in standard time)")


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


def wall_instant(naive: datetime, zone: tzinfo, *, end: bool,
                 day: bool = False) -> tuple[datetime, str | None]:
    """The instant a bound of a range given as a wall time in ``zone`` stands for, and a
    note when that wall time is not one instant there. ``end``: the range's end (before it).
    ``day``: the wall time is a date's midnight (a bare date, ``T24:00``), where that day
    begins, the earlier instant for either bound: read as an end's later one, `--until
    2025-11-02` in America/Havana (00:xx twice) ended an hour into 2 November, and that
    hour was in the reports both before and from that date.

    In the repeated hour of a fall-back (01:30 twice in America/Denver) a start is read as
    the earlier instant and an end as the later, so neither pass of the hour is left out;
    a wall time in a spring-forward gap (02:30, which no clock showed) is read as the
    instant the clocks moved, which is where that wall time falls among the day's others.
    Read with ``fold=0`` (Python's default) ``--to 01:30`` left out the second 01:xx hour
    and ``--from 02:30`` skipped the calls at 03:xx. Those instants are returned in UTC:
    an aware datetime in its own zone compares by wall time with another of that zone,
    fold ignored (PEP 495), and is never equal to one of another zone in a fold."""
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early, None
    first, second = (_utc(early), _utc(late))
    if _utc(first).astimezone(zone).replace(tzinfo=None) == naive:  # shown twice: a fold
        later = end and not day
        chosen = max(first, second) if later else min(first, second)  # in UTC: see below
        why = "when that day began" if day else "so that neither hour is left out"
        return chosen, (f"{naive.isoformat()} happened twice in {zone} (the clocks went "
                        f"back); read as the {'later' if later else 'earlier'} "
                        f"{chosen.astimezone(zone).isoformat()} ({zulu(chosen)}), {why}; "
                        f"give a UTC offset to choose")
    moved, was = _moved(min(first, second), max(first, second), zone)
    now, before = moved.astimezone(zone), (moved + was).replace(tzinfo=None)
    # a day skipped (Pacific/Apia, 2011-12-30): "from 00:00 to 00:00" said nothing
    shown = "%H:%M" if before.date() == now.date() else "%Y-%m-%dT%H:%M"
    return moved, (f"{naive.isoformat()} never happened in {zone} (the clocks went from "
                   f"{before:{shown}} to {now:{shown}}); read as "
                   f"{now.isoformat()} ({zulu(moved)}), when they moved; give a UTC "
                   f"offset to choose")


def skipped(naive: datetime, zone: tzinfo) -> bool:
    """Whether ``zone``'s clocks never showed the wall time ``naive`` (a spring-forward
    gap, a day skipped)."""
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    return (early.utcoffset() != late.utcoffset()
            and _utc(early).astimezone(zone).replace(tzinfo=None) != naive)


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


def _moved(low: datetime, high: datetime, zone: tzinfo) -> tuple[datetime, timedelta]:
    """The instant in [low, high] (UTC) at which ``zone``'s offset changes (a gap's two
    readings lie either side of it), to the second as the tz database keeps them, and the
    offset before it."""
    was = low.astimezone(zone).utcoffset() or timedelta()
    first, last = int(low.timestamp()), -int(-high.timestamp() // 1)
    while last - first > 1:
        middle = (first + last) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == was:
            first = middle
        else:
            last = middle
    return datetime.fromtimestamp(last, UTC), was
