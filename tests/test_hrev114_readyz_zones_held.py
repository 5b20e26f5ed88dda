"""hrev114: the national copy's zones stay loaded between /readyz hits.

heng24 judges the national copy on the latest date of every zone a called party of
``[main] regions`` can be in (51 zones for US). ``state_day`` asks ``ZoneInfo(name)`` of
each; zoneinfo keeps only 8 zones strongly, the rest weakly, and nothing else held these
(US/Michigan, America/Adak...), so every new second re-read ~45 tzdata files: measured
27 ms median, 64 ms max, per /readyz hit or metrics scrape (each a new second), inside
the event loop the gate answers in; 0.05 ms with the zones held. Pure: no clock read.
"""

from __future__ import annotations

import gc
import weakref
from zoneinfo import ZoneInfo

from callguard.fronts.http.readiness import call_zones


def test_every_call_zone_outlives_a_collection():
    for regions in ({"US"}, {"US", "CA", "PR", "GU", "MP", "AS", "VI"}):
        zones = call_zones(frozenset(regions))
        assert len(zones) > 8  # more than zoneinfo's strong cache holds
        refs = {zone: weakref.ref(ZoneInfo(zone)) for zone in zones}
        gc.collect()
        dropped = sorted(zone for zone, ref in refs.items() if ref() is None)
        assert dropped == [], f"{len(dropped)} zones re-read on each new second"
