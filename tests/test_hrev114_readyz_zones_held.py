"""hrev114: the national copy's zones stay loaded between /readyz hits.

heng24 judges the national copy on the latest date of every zone a called party of
``[main] regions`` can be in (51 zones for US). ``state_day`` asks ``ZoneInfo(name)`` of
each; zoneinfo keeps only 8 zones strongly, the rest weakly, and nothing else held these
(US/Michigan, America/Adak...), so every new second re-read ~45 tzdata files: measured
27 ms median, 64 ms max, per /readyz hit or metrics scrape (each a new second), inside
the event loop the gate answers in; 0.05 ms with the zones held. Pure: no clock read.
The zones are held where they are read (``callguard.utc.zone_info``, which the gate's local
times, state dates and records read through too), so the test asks /readyz's date of them.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callguard.fronts.http.readiness import call_zones, judged_day

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_every_call_zone_outlives_a_collection():
    for regions in ({"US"}, {"US", "CA", "PR", "GU", "MP", "AS", "VI"}):
        zones = call_zones(frozenset(regions))
        assert len(zones) > 8  # more than zoneinfo's strong cache holds
        judged_day(AT, zones)  # /readyz's date of the national copy reads every one
        refs = {zone: weakref.ref(ZoneInfo(zone)) for zone in zones}
        gc.collect()
        dropped = sorted(zone for zone, ref in refs.items() if ref() is None)
        assert dropped == [], f"{len(dropped)} zones re-read on each new second"


def test_a_zone_is_read_once_and_held():
    """The accessor every zone-reading step of a call goes through: more than 8 zones in
    turn (a site calling the whole US) re-read a tzdata file per ``ZoneInfo(name)`` (38 us
    against 0.5 held, measured by the lead) when nothing held them."""
    from callguard.utc import zone_info

    zones = call_zones(frozenset({"US"}))
    first = [zone_info(zone) for zone in zones]
    gc.collect()
    assert [zone_info(zone) for zone in zones] == first
    assert all(a is b for a, b in zip(first, (zone_info(z) for z in zones), strict=True))
