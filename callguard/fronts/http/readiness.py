"""Readiness: may this node take calls? Lists loaded and fresh, stores answering, clock
synchronised (calling hours are judged on it).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import available_timezones

from callguard.numbers.location import (
    STATE_CODES,
    region_for_state,
    zone_regions,
    zones_for_state,
)
from callguard.numbers.nanp import area_code_zones
from callguard.policy import Pack
from callguard.policy.rules.base import latest_date, state_day
from callguard.policy.rules.calling_hours import CallingHours
from callguard.policy.rules.lists import ListFreshness
from callguard.stores.interfaces import ListRegistry, RecordStores

__all__ = ["Check", "Readiness", "adjtimex_synchronised", "call_zones", "freshness_days",
           "judged_day"]

_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
# A check's detail at most (characters): bounded (the page is unauthenticated, and an
# exception may carry a server's long text), long enough for the way out of a store that
# lost its data — cut at 200, /readyz named the marker file and broke off before "then
# restart the node", so an operator who did what it said still had a node BLOCKing.
_DETAIL_MAX = 1000


def _detail(text: str) -> str:
    """``text`` within ``_DETAIL_MAX``; a cut one ends in "…" so it is seen to be cut."""
    return text if len(text) <= _DETAIL_MAX else text[:_DETAIL_MAX - 1] + "\u2026"


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc, found once: ``find_library`` runs ``ldconfig -p`` in a subprocess (about 2 ms
    and a fork on the loop), and /readyz — open to any peer — asked for it every time."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def adjtimex_synchronised() -> tuple[bool, str]:
    """Ask the kernel (adjtimex, read-only) whether NTP/PTP keeps the clock synchronised."""
    libc = _libc()
    buffer = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
    state = libc.adjtimex(buffer)
    if state < 0:
        return False, f"adjtimex failed (errno {ctypes.get_errno()})"
    if state == _TIME_ERROR:
        return False, "the kernel reports the clock unsynchronised (TIME_ERROR)"
    return True, "synchronised"


_UTC_ZONE = "Etc/UTC"  # the date of a call no zone is known for (``call_date_at``)
_DEFAULT_REGIONS = frozenset({"US"})  # [main] regions' default


@functools.cache
def call_zones(regions: frozenset[str]) -> tuple[str, ...]:
    """Every zone a called party of a site calling ``regions`` can be placed in, sorted:
    its numbers' area codes' (``area_code_zones``), a CRM time zone's (zone.tab's, of those
    regions), a CRM postal code's (a state's or territory's, ``zones_for_state``)."""
    zones = {z for z in available_timezones() if zone_regions(z) & regions}
    for npa in range(200, 1000):
        codes = area_code_zones(npa)
        if any(zone_regions(z) & regions for z in codes):
            zones.update(codes)
    for code in STATE_CODES:
        if region_for_state(code) in regions:
            zones.update(zones_for_state(code))
    return tuple(sorted(zones))


def _zone_less_blocked(pack: Pack, rule: ListFreshness) -> bool:
    """Whether ``pack`` BLOCKs every call ``rule`` judges when no zone of the called party is
    known: a calling-hours rule of it covers each of the rule's modes (its time unknown,
    ``local_unknown``). Then UTC's date, a zone-less call's, never decides the copy's age."""
    hours = [r for r in pack.rules if isinstance(r, CallingHours)]
    return any(rule.modes <= r.modes for r in hours)


def freshness_days(packs: Mapping[str, Pack], regions: Collection[str] = _DEFAULT_REGIONS
                   ) -> list[tuple[ListFreshness, tuple[str, ...]]]:
    """Every list-freshness rule of ``packs`` with the zones whose latest date it judges a
    copy on (``judged_day``): its pack's state's; for a pack of no state (us-federal's
    national list), every zone a called party of the site's ``regions`` can be in, and
    any state's a pack's scope reaches (a state's own list places its people there), with
    UTC's beside them unless the pack BLOCKs every call of no known zone the rule judges.

    The gate judges such a copy on the called party's date (``Context.copy_day``): judged
    on UTC's, /readyz said ready from 14:00 UTC on the copy's last usable day while every
    call to Guam or Saipan (UTC+10, already the next day) was BLOCKed for its age, and,
    at a site calling the US only, not ready from 00:00 UTC (19:00 Eastern) while every
    call it could place passed until Eastern's midnight (heng24). No one date is every
    zone's: readiness never promises what the gate refuses, so it is the latest."""
    wide = call_zones(frozenset(regions))
    states = {p.scope.state for p in packs.values() if p.scope.state}
    reached = tuple(sorted({*wide, *(z for s in states for z in zones_for_state(s))}))
    found: list[tuple[ListFreshness, tuple[str, ...]]] = []
    for pack in packs.values():
        for rule in pack.rules:
            if not isinstance(rule, ListFreshness):
                continue
            if pack.scope.state:
                found.append((rule, zones_for_state(pack.scope.state)))
            elif _zone_less_blocked(pack, rule) and reached:
                found.append((rule, reached))
            else:
                found.append((rule, (*reached, _UTC_ZONE)))
    return found


def judged_day(at: datetime, zones: tuple[str, ...]) -> date:
    """The date a freshness rule of a state's pack judges a copy on at ``at``: the state's
    (``state_day``: the gate judges a state's own scope list on it, ``Policy.list_day``, and
    the pack reaches the state's people, on its date); for a pack of no state, the latest
    date of a called party (``freshness_days``); UTC's when no zone is given.

    Judged on UTC's date, Florida's copy read stale on /readyz and a day older in `dnc
    status` from 7 p.m. Eastern on its last usable day (Utah's from 5 p.m. Mountain), while
    the gate took it until the state's midnight: a node out of service for hours (hsto23)."""
    return state_day(at, zones) if zones else at.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check's result."""

    name: str
    ok: bool
    detail: str


class Readiness:
    """Runs the checks; each is cheap and bounded."""

    def __init__(
        self,
        *,
        packs: Mapping[str, Pack],
        lists: ListRegistry,
        records: RecordStores,
        pings: Mapping[str, Callable[[], Awaitable[object]]],
        probes: Mapping[str, Callable[[], Awaitable[tuple[bool, str]]]] | None = None,
        clock_check: Callable[[], tuple[bool, str]] = adjtimex_synchronised,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        not_loaded: frozenset[str] = frozenset(),
        regions: Collection[str] = _DEFAULT_REGIONS,  # [main] regions: whom the site calls
    ) -> None:
        self._freshness = freshness_days(packs, regions)
        self._scope_lists = {p.scope.listed_on for p in packs.values() if p.scope.listed_on}
        self._lists = lists
        self._records = records
        self._pings = pings
        self._probes = probes or {}
        self._clock_check = clock_check
        self._clock = clock
        self._not_loaded = not_loaded  # [lists] not_loaded: absent on purpose

    def _list_checks(self) -> list[Check]:
        now = self._clock()
        latest = latest_date(now)  # no date is later anywhere
        checks: list[Check] = []
        errors = self._lists.errors
        for name in sorted({rule.list_name for rule, _ in self._freshness}):
            snapshot = self._lists.snapshot(name)
            if name in errors:  # the published version is refused: say so, not ready
                checks.append(Check(f"list:{name}", False, _detail(errors[name])))
                continue
            if snapshot is None and name in self._not_loaded:
                checks.append(Check(f"list:{name}", True, "not loaded on purpose ([lists] "
                                    "not_loaded): every call in its scope is BLOCKed"))
                continue
            if snapshot is None:
                checks.append(Check(f"list:{name}", False, "not loaded"))
                continue
            meta = snapshot.meta
            if meta.published is None:
                checks.append(Check(f"list:{name}", False, f"v{meta.version} has no date"))
                continue
            rules = [(rule, zones) for rule, zones in self._freshness
                     if rule.list_name == name]
            limit = min(rule.last_valid_day(meta.published) for rule, _ in rules)
            before = min(judged_day(now, zones) for _, zones in rules)
            # A state's scope list dated after its state's today: the gate reads it unread,
            # so the state's pack reaches every number and BLOCKs each call, nationwide.
            # (Another list dated after some call's date BLOCKs only calls in its scope
            # then, at night there: no reason to take every node out of service.)
            if name in self._scope_lists and meta.published > before:
                checks.append(Check(f"list:{name}", False, (
                    f"v{meta.version} published {meta.published}, after today ({before}) "
                    "in its state: not usable before then, and until then every call is "
                    "BLOCKed (it cannot show a number is not on it)")))
                continue
            # Any list dated after the latest date anywhere: the gate reads it as a wrong
            # date (``copy_day``) for every call its rules reach, in every zone (hrev104).
            if meta.published > latest:
                checks.append(Check(f"list:{name}", False, (
                    f"v{meta.version} published {meta.published}, after today anywhere "
                    f"({latest}): a wrong date, every call it reaches is BLOCKed "
                    "(an importer's clock ahead?)")))
                continue
            fresh = all(judged_day(now, zones) <= rule.last_valid_day(meta.published)
                        for rule, zones in rules)
            checks.append(Check(f"list:{name}", fresh,
                                f"v{meta.version} published {meta.published}, "
                                f"{'usable' if fresh else 'stale'} through {limit}"))
        # A list no freshness rule names (an attribute list: wireless, reassigned,
        # litigators) whose published version is refused is not ready either: its rules
        # then read an older copy, or none (the reassigned-number data then unread: a call
        # resting on a consent or relationship is BLOCKed, hrea24/hrev115), and only this
        # line said so (hatt20).
        named = {check.name for check in checks}
        for name in sorted(set(errors) - named):
            checks.append(Check(f"list:{name}", False, _detail(errors[name])))
        return checks

    async def _bounded(self, name: str, probe: Awaitable[object]) -> Check:
        try:
            await asyncio.wait_for(probe, 1.0)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return Check(name, False, _detail(f"{type(exc).__name__}: {exc}"))
        return Check(name, True, "answering")

    async def _probe(self, name: str, probe: Awaitable[tuple[bool, str]]) -> Check:
        try:
            ok, detail = await asyncio.wait_for(probe, 1.0)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            return Check(name, False, _detail(f"{type(exc).__name__}: {exc}"))
        return Check(name, ok, _detail(detail))

    async def run(self) -> list[Check]:
        """Every check; ready when all are ok."""
        checks = self._list_checks()
        checks.append(await self._bounded(
            "records", self._records.company_dnc("callguard-readiness", "+10000000000")))
        for name, ping in self._pings.items():
            checks.append(await self._bounded(name, ping()))
        for name, probe in self._probes.items():
            checks.append(await self._probe(name, probe()))
        synced, detail = self._clock_check()
        checks.append(Check("clock", synced, detail))
        return checks
