"""Review 73: a bare date (or ``T24:00``) names where a day begins, for either bound.

`wall_instant` reads a wall time the zone shows twice as the later instant in an `--until`
(`--to`), so that neither pass of the hour is left out. A bare date in a zone whose
midnight repeats (America/Havana, where the clocks go back from 01:00 to 00:00) was read
so too: `--until 2025-11-02` ended an hour into 2 November, and the first 00:xx hour of
that day was in both the report `--until 2025-11-02` and the one `--since 2025-11-02` (a
call counted in two adjacent months), its day outside the window asked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from bench.synthetic_records import Factory, e164
from callguard.cli.logs import instant_option
from callguard.utc import wall_instant
from tests.log_files import cli, config

HAVANA = ZoneInfo("America/Havana")
FIRST_MIDNIGHT = datetime(2025, 11, 2, 4, 0, tzinfo=UTC)  # 00:00 CDT; 00:00 CST is 05:00Z


@pytest.mark.parametrize("text", ["2025-11-02", "2025-11-01T24:00", "2025-11-01T24:00:00"])
@pytest.mark.parametrize("option", ["--since", "--until", "--from", "--to"])
def test_a_repeated_midnight_named_by_a_date_is_the_first(option, text):
    assert instant_option(option, text, HAVANA) == FIRST_MIDNIGHT


def test_a_time_in_the_repeated_hour_still_ends_at_the_later():
    assert instant_option("--until", "2025-11-02T00:30", HAVANA) == datetime(
        2025, 11, 2, 5, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def havana_call(tmp_path_factory):
    """One FastAGI call at 00:30 of the first pass of Havana's repeated midnight hour."""
    tmp_path = tmp_path_factory.mktemp("havana")
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = Factory(1)
    hashed, last4 = made.number(0)
    at = datetime(2025, 11, 2, 4, 30, tzinfo=UTC)
    record = made.decision(at, at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    record.update(front="fastagi", number_hash=hashed, number_last4=last4, linkedid="1.1")
    (data / "compliance.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    return path


def _calls(path, since, until):
    said = cli("report", "--json", "--tz", "America/Havana", "--since", since,
               "--until", until, config_path=path)
    assert said.returncode == 0, said.stderr
    return json.loads(said.stdout)["calls"]


def test_adjacent_reports_count_the_call_once(havana_call):
    assert _calls(havana_call, "2025-11-01", "2025-11-02") == 0
    assert _calls(havana_call, "2025-11-02", "2025-11-03") == 1


def test_evidence_to_a_date_leaves_that_day_out(havana_call):
    shown = cli("evidence", e164(0), "--json", "--tz", "America/Havana", "--from",
                "2025-11-01", "--to", "2025-11-02", config_path=havana_call)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["decisions"] == []


def test_a_skipped_day_is_named_by_its_dates():
    """Samoa skipped 30 December 2011: the note said "from 00:00 to 00:00"."""
    instant, said = wall_instant(datetime(2011, 12, 30, 12), ZoneInfo("Pacific/Apia"),
                                 end=False)
    assert instant == datetime(2011, 12, 30, 10, 0, tzinfo=UTC)
    assert said is not None
    assert "from 2011-12-30T00:00 to 2011-12-31T00:00" in said, said


def test_one_instant_named_twice_is_not_called_a_gap(havana_call):
    """Two texts naming one instant outside any gap were told they "both fall in the time
    the clocks skipped in UTC"; the gap's own case is kept (test_officer20_times)."""
    said = cli("report", "--since", "2026-12-02", "--until", "2026-12-01T24:00",
               config_path=havana_call)
    assert said.returncode == 2
    assert "skipped" not in said.stderr, said.stderr
    assert "is not after" in said.stderr


def test_a_skipped_day_as_the_whole_window_is_said_so(havana_call):
    """Samoa's 30 December 2011 (the clocks went from the 29th to the 31st): `--since
    2011-12-30 --until 2011-12-31` is one instant, and the refusal says why."""
    said = cli("report", "--tz", "Pacific/Apia", "--since", "2011-12-30", "--until",
               "2011-12-31", config_path=havana_call)
    assert said.returncode == 2
    assert "the clocks skipped" in said.stderr, said.stderr
