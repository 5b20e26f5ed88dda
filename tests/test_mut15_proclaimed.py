"""Mutation-testing gaps in proclaimed days' ``moves`` (hmut15).

- A ``[[proclaimed_days]]`` entry WITHOUT ``moves`` is a day of fasting or thanksgiving
  (63G-1-301(1)(a)(vi)) and moves off a Saturday: a default of false passed every test
  (they all wrote ``moves`` out), and would have left every proclaimed Saturday callable
  while blocking a Friday no statute names.
- A declared day in a version with no ``declared_citation`` cites the site's words alone,
  with no dangling "; " in the decision record's citation.
"""

from __future__ import annotations

import tomllib
from datetime import date

from callguard.config import load_settings
from callguard.policy import pack_from_mapping
from callguard.policy.calendar import ProclaimedDay
from tests.conftest import PACKS_DIR
from tests.test_config import write


def test_a_proclaimed_day_without_moves_moves_off_a_saturday(tmp_path):
    saturday, friday = date(2027, 9, 4), date(2027, 9, 3)
    body = ("[[proclaimed_days]]\ncalendar = 'us-ut:legal-holidays'\n"
            f"date = {saturday.isoformat()}\nname = 'Day of fasting'\n"
            "citation = 'Governor (example)'\n")
    calendar = load_settings(write(tmp_path, body)).packs["us-ut"].calendars[
        "us-ut:legal-holidays"]
    (held,) = calendar.holidays_on(friday) or ()
    assert held.name == "Day of fasting"
    assert held.moved_from == saturday
    assert not calendar.holidays_on(saturday)


def test_a_declared_day_without_a_declared_citation_cites_the_site_alone():
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    for calendar in doc["calendars"]:
        for version in calendar["versions"]:
            version.get("proclaimed", {}).pop("declared_citation", None)
    day = date(2027, 9, 4)
    pack = pack_from_mapping(doc, proclaimed=[(
        "us-ut:legal-holidays", ProclaimedDay(day, "Declared", "Proclamation (example)",
                                              moves=False))])
    (held,) = pack.calendars["us-ut:legal-holidays"].holidays_on(day) or ()
    assert held.citation == "Proclamation (example)"
