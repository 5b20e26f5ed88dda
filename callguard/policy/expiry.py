"""Law that is about to run out: packs, calendars and list copies ending with no successor.

A pack past ``effective_until`` drops out of every decision; a calendar with no version in
force blocks every call its rest-days rule judges; a list copy past its age limit blocks
every call. Each is data with an end date, so the end can be seen coming: this module
lists what ends within N days with nothing to follow it. Pure: the caller gives the day.

Packs and calendars end on statute dates months ahead: they are warned about within
``within_days`` (``[callguard] expiry_warning_days``). A list copy lives only as long as its
age limit (the national copy 32 days: its published day and 31 more, 47 CFR
64.1200(c)(2)(i)(D)): in that window every copy older than a day or two was warned about,
all the time, at a site importing daily or monthly (hexp25). A copy is warned about within
``copy_days`` when the site sets it (``[lists] copy_warning_days``), else when a quarter of
its usable life remains (rounded up: the national copy 8 days, a quarterly listing about
23), never earlier than ``within_days``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from callguard.policy.packs import Pack
from callguard.policy.rules.lists import ListFreshness

__all__ = ["Expiry", "copy_window", "expiry_warnings", "list_limits"]


@dataclass(frozen=True, slots=True)
class Expiry:
    """Something that stops being usable on ``ends`` (exclusive) with no successor."""

    kind: str  # "pack", "calendar" or "list"
    name: str
    ends: date
    days_left: int  # negative: already ended
    message: str


def _pack_warnings(packs: Mapping[str, Pack], today: date, horizon: date) -> list[Expiry]:
    found = []
    for pack in packs.values():
        ends = pack.effective_until
        if ends is None or ends > horizon:
            continue
        # a pack that speaks for its law (``Pack.speaks_for``, the engine's test): a
        # house policy or another state's statute naming it silenced this warning while
        # the gate refused every call in its scope from ``ends`` (hrev114)
        successors = [p for p in packs.values() if p.succeeds == pack.id
                      and p.speaks_for(pack) and p.effective_from <= ends
                      and (p.effective_until is None or p.effective_until > ends)]
        if successors:
            continue
        left = (ends - today).days
        when = f"ended on {ends}" if left <= 0 else f"ends on {ends} (in {left} days)"
        found.append(Expiry("pack", pack.id, ends, left,
                            f"pack {pack.id} {pack.version} {when} and no enabled pack "
                            f"succeeds it: its rules stop applying"))
    return found


def _calendar_warnings(packs: Mapping[str, Pack], today: date, horizon: date) -> list[Expiry]:
    found = []
    for pack in packs.values():
        if pack.effective_until is not None and pack.effective_until <= today:
            continue
        for calendar in pack.calendars.values():
            ends = calendar.ends()
            if ends is None or ends > horizon:
                continue
            if pack.effective_until is not None and ends >= pack.effective_until:
                continue  # the calendar outlives the pack that uses it
            left = (ends - today).days
            when = f"ended on {ends}" if left <= 0 else f"ends on {ends} (in {left} days)"
            found.append(Expiry("calendar", calendar.id, ends, left,
                                f"calendar {calendar.id} ({calendar.citation}) {when} with "
                                "no later version: rest-day rules will block every call "
                                "they judge"))
    return found


def list_limits(packs: Iterable[Pack], published: Mapping[str, date | None]
                ) -> dict[str, date | None]:
    """List name -> the first day its current copy is no longer usable (None: undated)."""
    limits: dict[str, date | None] = {}
    for pack in packs:
        for rule in pack.rules:
            if not isinstance(rule, ListFreshness) or rule.list_name not in published:
                continue
            day = published[rule.list_name]
            if day is None:
                limits[rule.list_name] = None
                continue
            first_stale = rule.last_valid_day(day) + timedelta(days=1)
            current = limits.get(rule.list_name)
            limits[rule.list_name] = first_stale if current is None else min(current,
                                                                              first_stale)
    return limits


def copy_window(published: date, stale: date, within_days: int,
                copy_days: int | None = None) -> int:
    """How many days before ``stale`` (its first unusable day) a list copy published on
    ``published`` is warned about: ``copy_days`` when given, else a quarter of the days it
    is usable (rounded up, at least 1), at most ``within_days``."""
    if copy_days is not None:
        return copy_days
    life = (stale - published).days
    return max(1, min(within_days, -(-life // 4)))


def expiry_warnings(
    packs: Mapping[str, Pack],
    today: date,
    within_days: int,
    published: Mapping[str, date | None] | None = None,
    *,
    copy_days: int | None = None,
) -> list[Expiry]:
    """Everything that ends soon (or already has) with no successor: packs and calendars
    ending within ``within_days`` of ``today``, and the current copy of each list a rule
    dates within its own window (``copy_window``); an undated copy always."""
    horizon = today + timedelta(days=within_days)
    found = _pack_warnings(packs, today, horizon) + _calendar_warnings(packs, today, horizon)
    dated = published or {}
    for name, stale in sorted(list_limits(packs.values(), dated).items()):
        day = dated.get(name)
        if stale is None or day is None:
            found.append(Expiry("list", name, today, 0,
                                f"list {name} has no published date: every call it is read "
                                "for is blocked"))
            continue
        if (stale - today).days > copy_window(day, stale, within_days, copy_days):
            continue
        left = (stale - today).days
        when = (f"stale since {stale}" if left <= 0
                else f"stale from {stale} (in {left} days)")
        found.append(Expiry("list", name, stale, left,
                            f"list {name}'s current copy is {when}: import a newer copy"))
    return sorted(found, key=lambda e: (e.ends, e.kind, e.name))
