"""Utah's legal holidays, date by date, against the words of Utah Code 63G-1-301.

The table below is written by hand from the statute's words (as effective 2025-05-07;
before that date only the days of the period are listed), not computed: (1)(a) fixed days
moved by (2)(a) Saturday -> preceding Friday and (2)(b) Sunday -> following Monday;
(1)(b) the Monday days, Thanksgiving, and Juneteenth moved by (2)(c) Tuesday-Friday ->
preceding Monday and (2)(d) Saturday/Sunday -> following Monday; (1)(c) every Sunday
(Easter Sunday is a Sunday). From 2026-05-06 (1)(b)(iii) adds Good Friday, the Friday
preceding Easter Sunday; from 2027-01-01 the text as reported (its words not read; see the
pack's notes): the 2026-05-06 days, and Juneteenth is also a fixed (1)(a) day, June 19,
moved only by (2)(a)-(b) — the Monday of (2)(c)-(d) stays blocked beside it until the
2027 words are read; no Election Day (2026 H.B. 104 was not found enacted). Every day
of 2025-2030 is checked, through the rest-days rule.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import date, timedelta

import pytest

from callguard.errors import ConfigError
from callguard.policy import DialingMode, Status, pack_from_mapping
from callguard.policy.calendar import ProclaimedDay, easter_sunday
from tests.conftest import PACKS, PACKS_DIR, decide

RULE = "us-ut:13-25a-103(3):sunday-holiday"
CALENDAR = PACKS["us-ut"].calendars["us-ut:legal-holidays"]

# Every Utah legal holiday that is not a Sunday, 2025-2030 (MM-DD by year).
EXPECTED = {
    2025: ["01-01", "01-20", "02-17",  # the text before 2025-05-07
           "05-26", "06-16", "07-04", "07-24", "09-01", "10-13", "11-11", "11-27", "12-25"],
    2026: ["01-01", "01-19", "02-16", "05-25", "06-15", "07-03", "07-24", "09-07", "10-12",
           "11-11", "11-26", "12-25"],
    # Good Friday 2026 (04-03) is before the 2026-05-06 text. No Election Day: 2026
    # H.B. 104 was not found enacted.
    # From 2027 Juneteenth is (1)(a) June 19 moved by (2)(a)-(b) (text as reported): Friday
    # 2027-06-18 for Saturday 06-19; 2029 and 2030 on 06-19 itself; and the Monday of the
    # (2)(c)-(d) read (2027-06-21, 2029-06-18, 2030-06-17) is kept beside it.
    2027: ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "06-21", "07-05", "07-23",
           "09-06", "10-11", "11-11", "11-25", "12-24", "12-31"],
    2028: ["01-17", "02-21", "04-14", "05-29", "06-19", "07-04", "07-24", "09-04", "10-09",
           "11-10", "11-23", "12-25"],
    2029: ["01-01", "01-15", "02-19", "03-30", "05-28", "06-18", "06-19", "07-04", "07-24",
           "09-03", "10-08", "11-12", "11-22", "12-25"],
    2030: ["01-01", "01-21", "02-18", "04-19", "05-27", "06-17", "06-19", "07-04", "07-24",
           "09-02", "10-14", "11-11", "11-28", "12-25"],
}
HOLIDAYS = {date(year, int(md[:2]), int(md[3:])) for year, days in EXPECTED.items()
            for md in days}


def every_day():
    day = date(2025, 1, 1)
    while day.year <= 2030:
        yield day
        day += timedelta(days=1)


def test_the_table_is_weekday_right():
    """The hand-written table itself: (2)(a)-(d) never leave a holiday on a weekend."""
    assert all(day.weekday() < 5 for day in HOLIDAYS)


def test_every_day_2025_to_2030_against_the_words():
    """The calendar's answer for each of the 2,191 days equals the table (or a Sunday)."""
    wrong = []
    for day in every_day():
        found = CALENDAR.holidays_on(day)
        assert found is not None, day
        expected = day in HOLIDAYS or day.weekday() == 6
        if bool(found) != expected:
            wrong.append((day, [h.name for h in found]))
    assert wrong == []


def test_every_day_through_the_rest_days_rule():
    """The same, through the full decision: the rule blocks exactly on those days."""
    wrong = []
    for day in every_day():
        at = f"{day.isoformat()}T11:00:00-07:00"
        verdict = decide(at=at, published=day - timedelta(days=1), mode=DialingMode.MANUAL)
        outcome = next(o for o in verdict.outcomes if o.rule_id == RULE)
        expected = day in HOLIDAYS or day.weekday() == 6
        if (outcome.status is Status.BLOCK) != expected:
            wrong.append((day, outcome.status, outcome.reason))
    assert wrong == []


@pytest.mark.parametrize(("day", "name", "moved_from"), [
    (date(2026, 6, 15), "Juneteenth National Freedom Day", date(2026, 6, 19)),   # (2)(c)
    (date(2027, 6, 18), "Juneteenth National Freedom Day", date(2027, 6, 19)),   # (2)(a), 2027 text
    (date(2026, 7, 3), "Independence Day", date(2026, 7, 4)),                    # (2)(a)
    (date(2027, 7, 5), "Independence Day", date(2027, 7, 4)),                    # (2)(b)
    (date(2027, 12, 31), "New Year's Day", date(2028, 1, 1)),                    # (2)(a)
])
def test_moved_days_name_their_subsection(day, name, moved_from):
    """The reason cites the moving subsection and the day moved from."""
    (holiday,) = CALENDAR.holidays_on(day) or ()
    assert (holiday.name, holiday.moved_from) == (name, moved_from)
    assert "63G-1-301(2)" in holiday.citation


def test_easter_by_the_gregorian_computus():
    """Known Gregorian Easter dates (and the method never changes a verdict: a Sunday)."""
    known = {2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5),
             2027: date(2027, 3, 28), 2028: date(2028, 4, 16), 2029: date(2029, 4, 1),
             2030: date(2030, 4, 21), 2038: date(2038, 4, 25), 2285: date(2285, 3, 22)}
    for year, day in known.items():
        assert easter_sunday(year) == day
        assert day.weekday() == 6


def test_easter_matches_dateutil_where_installed():
    """Cross-check 1900-2100 with dateutil's Western Easter when it is present."""
    easter = pytest.importorskip("dateutil.easter")
    for year in range(1900, 2101):
        assert easter_sunday(year) == easter.easter(year)


@pytest.mark.parametrize(("day", "names"), [
    (date(2026, 4, 3), []),                              # Good Friday 2026: before the text
    (date(2027, 3, 25), []),                             # the Thursday before
    (date(2027, 3, 26), ["Good Friday"]),                # Easter Sunday 2027-03-28
    (date(2027, 3, 27), []),                             # Holy Saturday is no holiday
    (date(2027, 3, 28), ["Sunday", "Easter Sunday"]),
    (date(2027, 3, 29), []),                             # no Easter Monday
    (date(2028, 4, 13), []),
    (date(2028, 4, 14), ["Good Friday"]),                # Easter Sunday 2028-04-16
    (date(2028, 4, 15), []),
])
def test_good_friday_date_by_date(day, names):
    """63G-1-301(1)(b)(iii) from 2026-05-06: the Friday preceding Easter Sunday, unmoved."""
    found = CALENDAR.holidays_on(day)
    assert found is not None
    assert [h.name for h in found] == names
    if "Good Friday" in names:
        assert "63G-1-301(1)(b)(iii)" in found[0].citation
        assert "subject to (6)" in found[0].citation  # the unread condition is in the reason
        assert found[0].moved_from is None


@pytest.mark.parametrize("day", [date(2026, 11, 3), date(2027, 11, 2), date(2028, 11, 7),
                                 date(2033, 11, 8)])
def test_election_day_is_no_legal_holiday(day):
    """2026 H.B. 104 (Election Day from 2027-01-01) was found only as introduced: a bill is
    not law, so the first Tuesday after the first Monday in November is an ordinary day."""
    assert CALENDAR.holidays_on(day) == ()
    assert all(d["name"] != "Election Day"
               for v in tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
               ["calendars"][0]["versions"] for d in v["days"])


# The first Tuesday after the first Monday in November, as a test-only calendar day: the
# calendar can express it (days_after) should an enacted text name it.
ELECTION_DAY = {"name": "Election Day", "citation": "test-only", "month": 11,
                "weekday": "monday", "nth": 1, "days_after": 1}


def _with_election_day(doc: dict) -> dict:
    doc["calendars"][0]["versions"][-1]["days"].append(dict(ELECTION_DAY))
    return doc


@pytest.mark.parametrize(("day", "names"), [
    (date(2027, 11, 1), []),                             # the first Monday itself
    (date(2027, 11, 2), ["Election Day"]),
    (date(2027, 11, 3), []),
    (date(2028, 11, 7), ["Election Day"]),               # 1 November 2028 is a Wednesday
    (date(2033, 11, 1), []),                             # a Tuesday, but before any Monday
    (date(2033, 11, 8), ["Election Day"]),
])
def test_days_after_date_by_date(day, names):
    """days_after: the first Tuesday after the first Monday in November, never 1 November."""
    doc = _with_election_day(tomllib.loads((PACKS_DIR / "us-ut.toml").read_text()))
    calendar = pack_from_mapping(doc).calendars["us-ut:legal-holidays"]
    assert [h.name for h in calendar.holidays_on(day) or ()] == names


def test_the_versions_and_their_dates():
    """Which text is in force when; the text from 2027-01-01 is open-ended."""
    assert [(v.effective_from, v.effective_until) for v in CALENDAR.versions] == [
        (date(2025, 1, 1), date(2025, 5, 7)), (date(2025, 5, 7), date(2026, 5, 6)),
        (date(2026, 5, 6), date(2027, 1, 1)), (date(2027, 1, 1), None)]
    assert CALENDAR.version_on(date(2026, 5, 5)).effective_from == date(2025, 5, 7)
    assert CALENDAR.version_on(date(2026, 5, 6)).effective_from == date(2026, 5, 6)
    assert CALENDAR.version_on(date(2027, 1, 1)).effective_from == date(2027, 1, 1)
    (presidents,) = CALENDAR.holidays_on(date(2027, 2, 15)) or ()
    assert presidents.name == "Presidents' Day"
    (washington,) = CALENDAR.holidays_on(date(2026, 2, 16)) or ()
    assert washington.name == "Washington and Lincoln Day"


def test_a_later_text_is_one_more_version():
    """An amendment (here, for the test only: a text from 2028-01-01 without the test-only
    Election Day) is a data change: one more version, the one before it ending the day it
    begins."""
    doc = _with_election_day(tomllib.loads((PACKS_DIR / "us-ut.toml").read_text()))
    calendar = doc["calendars"][0]
    current = calendar["versions"][-1]
    current["effective_until"] = date(2028, 1, 1)
    later = copy.deepcopy(current)
    del later["effective_until"]
    later["effective_from"] = date(2028, 1, 1)
    later["source"] = "test-only version"
    later["days"] = [d for d in later["days"] if d["name"] != "Election Day"]
    calendar["versions"].append(later)
    amended = pack_from_mapping(doc).calendars["us-ut:legal-holidays"]
    assert [h.name for h in amended.holidays_on(date(2027, 11, 2)) or ()] == ["Election Day"]
    assert not amended.holidays_on(date(2028, 11, 7))


def _first_day(doc: dict, name: str) -> dict:
    return next(d for d in doc["calendars"][0]["versions"][-1]["days"] if d["name"] == name)


@pytest.mark.parametrize(("change", "message"), [
    ({"easter_offset": -2}, "unknown key 'easter_offset' in a calendar day"),
    ({"days_afterr": 1}, "unknown key 'days_afterr' in a calendar day"),
    ({"days_after": 0}, "days_after"),
    ({"days_after": 7}, "days_after"),
    ({"days_after": "1"}, "days_after"),
])
def test_a_mistyped_or_out_of_range_day_key_is_refused(change, message):
    """The day keys are closed: a misspelt key or a bad days_after never loads."""
    doc = _with_election_day(tomllib.loads((PACKS_DIR / "us-ut.toml").read_text()))
    _first_day(doc, "Election Day").update(change)
    with pytest.raises(ConfigError, match=message):
        pack_from_mapping(doc)


@pytest.mark.parametrize("form", [{"date": "11-01"}, {"easter": -2}])
def test_days_after_only_goes_with_month(form):
    doc = _with_election_day(tomllib.loads((PACKS_DIR / "us-ut.toml").read_text()))
    day = _first_day(doc, "Election Day")
    for key in ("month", "weekday", "nth"):
        del day[key]
    day.update(form)
    with pytest.raises(ConfigError, match="days_after only go with month"):
        pack_from_mapping(doc)


def test_an_easter_offset_out_of_range_is_refused():
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    _first_day(doc, "Good Friday")["easter"] = -71
    with pytest.raises(ConfigError, match="easter"):
        pack_from_mapping(doc)


def test_versions_must_not_overlap():
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    del doc["calendars"][0]["versions"][0]["effective_until"]
    with pytest.raises(ConfigError, match=r"must end \(effective_until\) no later than 2025-05-07"):
        pack_from_mapping(doc)


def test_a_day_needs_exactly_one_form():
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    doc["calendars"][0]["versions"][1]["days"][0]["month"] = 1
    with pytest.raises(ConfigError, match="give exactly one of date"):
        pack_from_mapping(doc)


def test_unknown_day_key_is_refused():
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    doc["calendars"][0]["versions"][1]["days"][0]["moves_citaton"] = "x"
    with pytest.raises(ConfigError, match="unknown key 'moves_citaton' in a calendar day"):
        pack_from_mapping(doc)


def test_proclaimed_days_need_a_version_that_provides_for_them():
    """A text with no proclamation clause takes no proclaimed day (the configuration is
    refused). Every shipped version has one since us-ut 2026.12.10 (the text before
    2025-05-07 gained it), so the clause is removed here."""
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    first = doc["calendars"][0]["versions"][0]
    assert first["effective_until"] == date(2025, 5, 7)
    del first["proclaimed"]
    with pytest.raises(ConfigError, match="does not provide for proclaimed days"):
        pack_from_mapping(doc, proclaimed=[("us-ut:legal-holidays", ProclaimedDay(
            date(2025, 2, 3), "x", "y"))])


def test_no_version_in_force_blocks():
    """A day no text covers: a legal holiday cannot be ruled out (fail closed)."""
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    versions = doc["calendars"][0]["versions"]
    del versions[-1]  # the texts from 2027-01-01: here the one before ends 2026-07-01
    versions[-1]["effective_until"] = date(2026, 7, 1)
    pack = pack_from_mapping(doc)
    rule = next(r for r in pack.rules if r.rule_id == RULE)
    from tests.test_engine import context_for
    outcome = rule.evaluate(context_for("2026-07-22T11:00:00-06:00"))
    assert outcome.status is Status.BLOCK
    assert "no text of Utah Code 63G-1-301 is in force on 2026-07-22" in outcome.reason


def _declared(moves: bool):
    """The us-ut pack with a holiday declared for Saturday 4 September 2027."""
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    day = ProclaimedDay(date(2027, 9, 4), "Holiday declared for extraordinary conditions",
                        "Governor's proclamation (example)", moves=moves)
    pack = pack_from_mapping(doc, proclaimed=[("us-ut:legal-holidays", day)])
    return pack, next(r for r in pack.rules if r.rule_id == RULE)


def test_a_holiday_declared_in_addition_to_subsection_1_is_not_moved():
    """63G-1-301 (the text read, laws-info's copy of an earlier version, (2)(a)): 'Whenever
    in the governor's opinion extraordinary conditions exist justifying the action, the
    governor may: (i) declare, by proclamation, legal holidays in addition to those holidays
    under Subsection (1)'; the moves reach only 'a day described in Subsection (1)(a)'
    ((2)(a)-(b) of the 2025-05-07 and 2026-05-06 texts). A Saturday so declared is itself
    the legal holiday: before, every proclaimed day took the (1)(a) moves, so the Saturday
    was callable and the Friday before it blocked."""
    from tests.test_engine import context_for
    pack, rule = _declared(moves=False)
    calendar = pack.calendars["us-ut:legal-holidays"]
    (held,) = calendar.holidays_on(date(2027, 9, 4)) or ()
    assert held.moved_from is None
    # the site's words and the version's power to declare, never the (1)(a)(vi) clause
    assert held.citation.startswith("Governor's proclamation (example); 63G-1-301")
    assert "in addition to those under Subsection (1)" in held.citation
    assert "(1)(a)" not in held.citation.replace("Subsection (1)(a)", "")
    assert calendar.holidays_on(date(2027, 9, 3)) == ()
    saturday = rule.evaluate(context_for("2027-09-04T12:00:00-06:00"))
    assert saturday.status is Status.BLOCK
    assert "Holiday declared for extraordinary conditions" in saturday.reason
    assert rule.evaluate(context_for("2027-09-03T12:00:00-06:00")).status is not Status.BLOCK


def test_a_day_of_fasting_proclaimed_for_a_saturday_still_moves():
    """(1)(a)(vi) and (2)(a): a day of fasting or thanksgiving is a (1)(a) day, so a Saturday
    moves to the preceding Friday (the default of a proclaimed day)."""
    pack, _ = _declared(moves=True)
    calendar = pack.calendars["us-ut:legal-holidays"]
    (held,) = calendar.holidays_on(date(2027, 9, 3)) or ()
    assert held.moved_from == date(2027, 9, 4)
    assert calendar.holidays_on(date(2027, 9, 4)) == ()


def test_a_declared_day_cites_the_power_to_declare_in_every_version():
    """A holiday declared in addition to 63G-1-301(1) names the statute in the decision
    record, not only the site's words: the 2021 text numbers the power (2)(a)(i) (the text
    before 2025-05-07); later versions cite it by its words (number not read). Before
    2026.12.14 the citation was the site's alone (review hrev29)."""
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    days = (date(2025, 3, 1), date(2025, 9, 6), date(2026, 9, 5), date(2027, 9, 4))
    pack = pack_from_mapping(doc, proclaimed=[
        ("us-ut:legal-holidays", ProclaimedDay(day, "Declared", "Proclamation (example)",
                                               moves=False)) for day in days])
    calendar = pack.calendars["us-ut:legal-holidays"]
    for day in days:  # each a Saturday: held on the day itself, the Friday before free
        assert day.weekday() == 5
        (held,) = calendar.holidays_on(day) or ()
        assert held.moved_from is None
        assert held.citation.startswith("Proclamation (example); ")
        assert "declare" in held.citation
        assert "Subsection (1)" in held.citation
        assert calendar.holidays_on(day - timedelta(days=1)) == ()
    (early,) = calendar.holidays_on(date(2025, 3, 1)) or ()
    assert "63G-1-301(2)(a)(i)" in early.citation
