"""A jurisdiction's legal holidays as data: days, the rules that move them, effective dates.

Each day of a calendar version is written as the statute writes it — a fixed date
("July 24"), the n-th weekday of a month ("the third Monday of January", "the last
Monday of May"), a day counted from one ("the first Tuesday after the first Monday in
November": ``days_after = 1``), or a day counted from Easter Sunday ("the Friday preceding
Easter Sunday": ``easter = -2``) — with its citation, and with the
statute's own moving rule when it has one: Utah 63G-1-301(2)(a)-(b) move a Saturday
holiday to the preceding Friday and a Sunday one to the following Monday, (2)(c)-(d) move
Juneteenth to a Monday. A moved day replaces the day it moves from ("the preceding Friday
is the legal holiday"). Days proclaimed by the President or the governor are added by
configuration, each with its citation, and take the version's moving rule for them; a
holiday the governor declares in addition to the statute's days (``moves`` false) does not.

Easter is computed by the Gregorian computus (Meeus/Jones/Butcher): a library-grade
algorithm, not an authority — where a statute words Easter astronomically the pack says
so in its notes.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import MAXYEAR, MINYEAR, date, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any

from callguard.errors import ConfigError
from callguard.policy.schema import Key, check_table

__all__ = [
    "CALENDAR_KEYS",
    "DAY_KEYS",
    "VERSION_KEYS",
    "WEEKDAYS",
    "Calendar",
    "CalendarVersion",
    "DayRule",
    "Holiday",
    "ProclaimedDay",
    "calendar_from_mapping",
    "easter_sunday",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SUNDAY = 6

_MOVES = Key("table", doc="weekday name -> days to move (-6..6), as the statute says")
DAY_KEYS: Mapping[str, Key] = {
    "name": Key("str", required=True),
    "citation": Key("str", required=True),
    "date": Key("str", doc="a fixed day, \"MM-DD\""),
    "month": Key("int", low=1, high=12, doc="with weekday and nth"),
    "weekday": Key("str", choices=WEEKDAYS),
    "nth": Key("int", low=-1, high=5, doc="1..5, or -1 for the last; not 0"),
    "days_after": Key("int", low=1, high=6, doc="with month: this many days after the n-th "
                      "weekday ('the first Tuesday after the first Monday' = 1)"),
    "easter": Key("int", low=-70, high=70, doc="days after Easter Sunday (0 = Easter)"),
    "moves": _MOVES,
    "moves_citation": Key("str", doc="the subsection that moves the day"),
}
PROCLAIMED_KEYS: Mapping[str, Key] = {
    "citation": Key("str", required=True, doc="the subsection that makes proclaimed days "
                                                "legal holidays"),
    "moves": _MOVES,
    "moves_citation": Key("str"),
    "declared_citation": Key("str", doc="the words that let the governor declare holidays in "
                                        "addition to the statute's (days entered with moves "
                                        "= false; not moved)"),
}
VERSION_KEYS: Mapping[str, Key] = {
    "effective_from": Key("date", required=True),
    "effective_until": Key("date", doc="exclusive; absent: until a later version"),
    "source": Key("str", required=True, doc="the text read, and where"),
    "sundays": Key("str", doc="citation making every Sunday a legal holiday"),
    "proclaimed": Key("table", doc="whether proclaimed days count, and how they move"),
    "days": Key("table-list", required=True),
    "notes": Key("str-list"),
}
CALENDAR_KEYS: Mapping[str, Key] = {
    "id": Key("str", required=True, doc="'<pack id>:<name>'"),
    "title": Key("str", required=True),
    "citation": Key("str", required=True),
    "versions": Key("table-list", required=True),
    "notes": Key("str-list"),
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * el) // 433
    month = (h + el - 7 * m + 90) // 25
    return date(year, month, (h + el - 7 * m + 33 * month + 19) % 32)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
        if day.month != month:
            raise ConfigError(f"there is no {nth}th {WEEKDAYS[weekday]} in {year}-{month:02d}")
        return day
    # the month's last day, not the day before the next month's first: December 9999
    # has no 10000-01-01 to count back from
    last = date(year, month, monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@dataclass(frozen=True, slots=True)
class Holiday:
    """One legal holiday on one date, with the words that make it one."""

    day: date
    name: str
    citation: str
    moved_from: date | None = None

    def label(self) -> str:
        """``Independence Day (63G-1-301(1)(a)(ii); moved from Sat 2026-07-04)``."""
        moved = f"; moved from {self.moved_from:%a %Y-%m-%d}" if self.moved_from else ""
        return f"{self.name} ({self.citation}{moved})"


@dataclass(frozen=True, slots=True)
class DayRule:
    """How one holiday falls in a year, and how the statute moves it."""

    name: str
    citation: str
    fixed: tuple[int, int] | None = None  # (month, day)
    nth: tuple[int, int, int] | None = None  # (month, weekday, n)
    days_after: int = 0  # with nth: days after the n-th weekday
    easter: int | None = None
    moves: tuple[tuple[int, int], ...] = ()  # (weekday, days)
    moves_citation: str = ""

    def base(self, year: int) -> date:
        """The day the statute names, before any move."""
        if self.fixed is not None:
            return date(year, *self.fixed)
        if self.nth is not None:
            return _nth_weekday(year, *self.nth) + timedelta(days=self.days_after)
        assert self.easter is not None
        return easter_sunday(year) + timedelta(days=self.easter)

    def occurrence(self, year: int) -> Holiday:
        """The legal holiday this rule makes in ``year`` (moved when the statute says)."""
        base = self.base(year)
        shift = dict(self.moves).get(base.weekday(), 0)
        if not shift:
            return Holiday(base, self.name, self.citation)
        return Holiday(base + timedelta(days=shift), self.name,
                       f"{self.citation}, {self.moves_citation}", base)


@dataclass(frozen=True, slots=True)
class ProclaimedDay:
    """A day proclaimed a legal holiday, added by configuration with its citation.

    ``moves`` False: a holiday the governor declares "in addition to those holidays under
    Subsection (1)" (63G-1-301, the governor's power for extraordinary conditions): the
    Saturday and Sunday moves reach only "a day described in Subsection (1)(a)" (a day of
    fasting or thanksgiving is one), so the declared day itself is the legal holiday, and
    its citation is the site's and the version's ``declared_citation`` (not its (1)(a) clause).
    """

    day: date
    name: str
    citation: str
    moves: bool = True


@dataclass(frozen=True, slots=True)
class CalendarVersion:
    """The calendar as one text of the statute has it, from one date to the next."""

    effective_from: date
    effective_until: date | None
    source: str
    sundays: str | None
    days: tuple[DayRule, ...]
    proclaimed_citation: str | None = None
    proclaimed_moves: tuple[tuple[int, int], ...] = ()
    proclaimed_moves_citation: str = ""
    proclaimed_declared_citation: str = ""
    proclaimed: tuple[ProclaimedDay, ...] = ()
    notes: tuple[str, ...] = ()

    def in_effect(self, day: date) -> bool:
        """``effective_until`` is exclusive."""
        return self.effective_from <= day and (
            self.effective_until is None or day < self.effective_until)

    def holidays_on(self, day: date) -> tuple[Holiday, ...]:
        """Every legal holiday this version puts on ``day`` (Sundays included)."""
        # A day moved across New Year lies in the year either side. Years `date` cannot
        # hold are not asked: on 9999-12-31 the year 10000 raised ValueError, and
        # `check --at` of that day was an internal error, not a verdict.
        years = range(max(day.year - 1, MINYEAR), min(day.year + 1, MAXYEAR) + 1)
        found = [h for year in years for h in _occurrences(self, year) if h.day == day]
        if self.sundays is not None and day.weekday() == _SUNDAY:
            found.insert(0, Holiday(day, "Sunday", self.sundays))
        return tuple(found)

    def _proclaimed_rules(self) -> tuple[DayRule, ...]:
        return tuple(DayRule(p.name, f"{p.citation}; {self.proclaimed_citation}",
                             fixed=(p.day.month, p.day.day), moves=self.proclaimed_moves,
                             moves_citation=self.proclaimed_moves_citation)
                     if p.moves else DayRule(p.name, self._declared(p.citation),
                                             fixed=(p.day.month, p.day.day))
                     for p in self.proclaimed)

    def _declared(self, citation: str) -> str:
        """A declared day cites the site's proclamation and the version's power to declare."""
        extra = self.proclaimed_declared_citation
        return f"{citation}; {extra}" if extra else citation

    def proclaimed_in(self, year: int) -> tuple[DayRule, ...]:
        """Rules for the proclaimed days of ``year``."""
        return tuple(rule for rule, p in zip(self._proclaimed_rules(), self.proclaimed,
                                             strict=True) if p.day.year == year)


@lru_cache(maxsize=512)
def _occurrences(version: CalendarVersion, year: int) -> tuple[Holiday, ...]:
    rules = version.days + version.proclaimed_in(year)
    return tuple(rule.occurrence(year) for rule in rules)


@dataclass(frozen=True, slots=True)
class Calendar:
    """A jurisdiction's legal holidays, version by version."""

    id: str
    title: str
    citation: str
    versions: tuple[CalendarVersion, ...]
    notes: tuple[str, ...] = field(default=())

    def version_on(self, day: date) -> CalendarVersion | None:
        """The version in force on ``day``, or None (no text known for that day)."""
        for version in self.versions:
            if version.in_effect(day):
                return version
        return None

    def holidays_on(self, day: date) -> tuple[Holiday, ...] | None:
        """The legal holidays on ``day``; None when no version is in force that day."""
        version = self.version_on(day)
        return None if version is None else version.holidays_on(day)

    def holidays_in(self, year: int) -> list[Holiday]:
        """Every legal holiday of ``year`` (not every Sunday), for ``packs show``."""
        found: list[Holiday] = []
        day = date(year, 1, 1)
        while day.year == year:
            found.extend(h for h in self.holidays_on(day) or () if h.name != "Sunday")
            day += timedelta(days=1)
        return found

    def ends(self) -> date | None:
        """The day the last version stops being in force (None: open-ended)."""
        return self.versions[-1].effective_until if self.versions else None

    def with_proclaimed(self, days: tuple[ProclaimedDay, ...]) -> Calendar:
        """This calendar with proclaimed days added to the versions in force on them."""
        if not days:
            return self
        versions = []
        for version in self.versions:
            mine = tuple(p for p in days if version.in_effect(p.day))
            if mine and version.proclaimed_citation is None:
                raise ConfigError(f"calendar {self.id}: the version in force on "
                                  f"{mine[0].day} does not provide for proclaimed days")
            versions.append(replace(version, proclaimed=version.proclaimed + mine))
        stray = [p for p in days if self.version_on(p.day) is None]
        if stray:
            raise ConfigError(f"calendar {self.id}: no version in force on {stray[0].day} "
                              f"for the proclaimed day {stray[0].name!r}")
        return replace(self, versions=tuple(versions))


def _moves(where: str, raw: Any) -> tuple[tuple[int, int], ...]:
    table = check_table(where, raw, {w: Key("int", low=-6, high=6) for w in WEEKDAYS},
                        what="moves")
    return tuple((WEEKDAYS.index(name), int(days)) for name, days in table.items() if days)


def _day_rule(where: str, raw: Any) -> DayRule:
    table = check_table(where, raw, DAY_KEYS, what="a calendar day")
    name = table["name"]
    where = f"{where}, day {name!r}"
    forms = [k for k in ("date", "month", "easter") if k in table]
    if len(forms) != 1:
        raise ConfigError(f"{where}: give exactly one of date = \"MM-DD\", month + weekday + "
                          "nth, or easter = N")
    stray = [k for k in ("weekday", "nth", "days_after") if k in table and "month" not in table]
    if stray:
        raise ConfigError(f"{where}: {', '.join(stray)} only go with month")
    moves = _moves(where, table["moves"]) if "moves" in table else ()
    if moves and "moves_citation" not in table:
        raise ConfigError(f"{where}: moves need moves_citation (the words that move it)")
    common: dict[str, Any] = {"moves": moves, "moves_citation": table.get("moves_citation", "")}
    if "date" in table:
        try:
            month, day = (int(part) for part in table["date"].split("-"))
            date(2001, month, day)  # not a leap year: a day every year has
        except ValueError:
            raise ConfigError(f"{where}: date {table['date']!r} is not \"MM-DD\"") from None
        return DayRule(name, table["citation"], fixed=(month, day), **common)
    if "month" in table:
        if "weekday" not in table or "nth" not in table or table["nth"] == 0:
            raise ConfigError(f"{where}: month needs weekday and nth (1..5, or -1 for the "
                              "last)")
        return DayRule(name, table["citation"],
                       nth=(table["month"], WEEKDAYS.index(table["weekday"]), table["nth"]),
                       days_after=table.get("days_after", 0), **common)
    return DayRule(name, table["citation"], easter=table["easter"], **common)


def _version(where: str, raw: Any) -> CalendarVersion:
    table = check_table(where, raw, VERSION_KEYS, what="a calendar version")
    where = f"{where} from {table['effective_from']}"
    until = table.get("effective_until")
    if until is not None and until <= table["effective_from"]:
        raise ConfigError(f"{where}: effective_until must be after effective_from")
    days = tuple(_day_rule(where, day) for day in table["days"])
    proclaimed: Mapping[str, Any] | None = None
    moves: tuple[tuple[int, int], ...] = ()
    if "proclaimed" in table:
        proclaimed = check_table(where, table["proclaimed"], PROCLAIMED_KEYS,
                                 what="proclaimed")
        moves = _moves(where, proclaimed["moves"]) if "moves" in proclaimed else ()
        if moves and "moves_citation" not in proclaimed:
            raise ConfigError(f"{where}: proclaimed moves need moves_citation")
    return CalendarVersion(
        effective_from=table["effective_from"], effective_until=until,
        source=table["source"], sundays=table.get("sundays"), days=days,
        proclaimed_citation=proclaimed["citation"] if proclaimed else None,
        proclaimed_moves=moves,
        proclaimed_moves_citation=proclaimed.get("moves_citation", "") if proclaimed else "",
        proclaimed_declared_citation=(proclaimed.get("declared_citation", "")
                                      if proclaimed else ""),
        notes=tuple(table.get("notes", ())))


def calendar_from_mapping(where: str, pack_id: str, raw: Any) -> Calendar:
    """Build and check one ``[[calendars]]`` entry of a pack."""
    table = check_table(where, raw, CALENDAR_KEYS, what="[[calendars]]")
    calendar_id = table["id"]
    where = f"{where}, calendar {calendar_id}"
    if not calendar_id.startswith(pack_id + ":"):
        raise ConfigError(f"{where}: calendar id must start with '{pack_id}:'")
    versions = tuple(_version(where, v) for v in table["versions"])
    if not versions:
        raise ConfigError(f"{where}: a calendar needs at least one version")
    for earlier, later in pairwise(versions):
        if later.effective_from <= earlier.effective_from:
            raise ConfigError(f"{where}: versions must be in order of effective_from")
        if earlier.effective_until is None or earlier.effective_until > later.effective_from:
            raise ConfigError(f"{where}: the version from {earlier.effective_from} must end "
                              f"(effective_until) no later than {later.effective_from}, "
                              "when the next begins")
    return Calendar(calendar_id, table["title"], table["citation"], versions,
                    tuple(table.get("notes", ())))
