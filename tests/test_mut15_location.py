"""Mutation-testing gaps in the CRM zone's regions (hmut15).

``parse_location`` runs for every check that carries a LOCATION: the zone-to-regions table
read from tzdata (``tzdata.zi``, ``zone.tab``: about 4,000 lines) must be read once per
process, not once per call — dropping ``@cache`` let every test pass while each check
re-read and re-parsed both files. And ``zone_regions`` of a name tzdata does not have is
empty (refused: fail closed), never a default region.
"""

from __future__ import annotations

import pytest

from callguard.numbers import location
from callguard.numbers.location import parse_location, zone_regions


def test_the_zone_table_is_read_once_per_process():
    assert location._zone_regions() is location._zone_regions()
    parse_location("America/Denver")
    assert location._zone_regions() is location._zone_regions()


@pytest.mark.parametrize("zone", ["No/Such_Zone", "Etc/UTC", "Factory", ""])
def test_a_zone_no_place_uses_has_no_region(zone):
    assert zone_regions(zone) == frozenset()

