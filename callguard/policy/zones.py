"""Candidate zones of the called party, and the call's local time in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callguard.numbers import Location, NumberInfo
from callguard.policy.rules.base import LocalTime
from callguard.utc import zone_info

__all__ = ["ZoneResolution", "local_times", "resolve_zones"]


@dataclass(frozen=True, slots=True)
class ZoneResolution:
    """The zones to check and why each is there; ``unknown_reason`` when there are none."""

    zones: tuple[str, ...]
    sources: tuple[str, ...]
    unknown_reason: str | None = None


def resolve_zones(
    number: NumberInfo,
    location: Location | None,
    *,
    max_zones: int,
    every_zone_fallback: bool,
    listed: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> ZoneResolution:
    """Union of the number's zones (when usable), the CRM location's zones and the zones of
    each state whose own do-not-call list holds the number (``listed``: (source, zones));
    the list holds the state's residents, whatever their number's area code. A listing
    widens a known set of zones; it does not stand in for an unknown one."""
    zones: list[str] = []
    sources: list[str] = []
    usable = number.geographic and 0 < len(number.zones) <= max_zones
    if usable:
        zones.extend(number.zones)
        place = f"area code {number.area_code}" if number.area_code else "number"
        sources.append(f"{place}: {', '.join(number.zones)}")
    if location is not None:
        zones.extend(z for z in location.zones if z not in zones)
        sources.append(f"{location.source}: {', '.join(location.zones)}")
    if zones:
        return _with_listed(zones, sources, listed)
    if not number.geographic:
        why = "number has no geography (toll-free or non-geographic) and no CRM location"
    else:
        why = f"number maps to {len(number.zones)} time zones and no CRM location was given"
    # A listing shows where the person lived when registering, not where the call rings:
    # alone it never makes an unknown local time known (a toll-free number on ok-state
    # rings in Honolulu as well as in Tulsa; hrev83). It adds its state's zones only.
    if every_zone_fallback and number.zones:
        return _with_listed(list(number.zones),
                            [f"fallback, every zone the number maps to: {why}"], listed)
    return ZoneResolution((), (), why)


def _with_listed(zones: list[str], sources: list[str],
                 listed: tuple[tuple[str, tuple[str, ...]], ...]) -> ZoneResolution:
    """The zones known, and each listing state's zones beside them (never in their place)."""
    for source, state_zones in listed:
        zones.extend(z for z in state_zones if z not in zones)
        sources.append(f"{source}: {', '.join(state_zones)}")
    return ZoneResolution(tuple(zones), tuple(sources))


def local_times(at: datetime, zones: tuple[str, ...]) -> tuple[LocalTime, ...]:
    """The instant in each zone (zoneinfo applies each zone's DST rules)."""
    return tuple([LocalTime(zone, at.astimezone(zone_info(zone))) for zone in zones])
