"""The CLI's reading of times an officer types, years later (session 23).

A bare `--from/--to` (`--since/--until`) is a wall time in `--tz`. Read with Python's
``fold=0``, a spring-forward gap time came out an hour late (`--from 02:30` skipped the
calls at 03:xx: "none"), and a fall-back `--to 01:30` left out the second 01:xx hour.
`report --until 9999-12-31` was an internal error (OverflowError); so were `--since
0001-01-01` and `--since 1000000d`. The demo's ten answers were counted as ten calls.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from bench.synthetic_records import Factory, e164
from callguard.utc import wall_instant
from tests.log_files import cli, config

DENVER = ZoneInfo("America/Denver")
NUMBER = e164(0)


def test_a_fold_gives_a_start_the_earlier_instant_and_an_end_the_later():
    naive = datetime(2026, 11, 1, 1, 30)
    start, said = wall_instant(naive, DENVER, end=False)
    end, _ = wall_instant(naive, DENVER, end=True)
    assert start == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert said is not None
    assert "twice" in said


def test_a_gap_time_is_the_instant_the_clocks_moved_for_either_bound():
    for end in (False, True):
        instant, said = wall_instant(datetime(2026, 3, 8, 2, 30), DENVER, end=end)
        assert instant == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
        assert said is not None
        assert "from 02:00 to 03:00" in said
    assert wall_instant(datetime(2026, 7, 1, 2, 30), DENVER, end=True) == (
        datetime(2026, 7, 1, 2, 30, tzinfo=DENVER), None)


@pytest.fixture(scope="module")
def dst_calls(tmp_path_factory):
    """Three FastAGI calls of one number (logged as placed): 03:10 MDT the morning of
    spring-forward, and 01:10 in each pass of the repeated hour of fall-back."""
    tmp_path = tmp_path_factory.mktemp("dst")
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = Factory(1)
    hashed, last4 = made.number(0)
    lines = []
    for text in ("2026-03-08T03:10:00-06:00", "2026-11-01T01:10:00-06:00",
                 "2026-11-01T01:10:00-07:00"):
        at = datetime.fromisoformat(text).astimezone(UTC)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        record = made.decision(at, stamp)
        record.update(front="fastagi", number_hash=hashed, number_last4=last4,
                      linkedid=f"{int(at.timestamp())}.1")
        lines.append(orjson.dumps(record) + b"\n")
    (data / "compliance.jsonl").write_bytes(b"".join(lines))
    return path


def _decisions(path, *window):
    shown = cli("evidence", NUMBER, "--json", "--tz", "America/Denver", *window,
                config_path=path)
    assert shown.returncode == 0, shown.stderr
    return shown, json.loads(shown.stdout)["decisions"]


def test_evidence_from_a_gap_time_finds_the_call_after_it(dst_calls):
    shown, found = _decisions(dst_calls, "--from", "2026-03-08T02:30",
                              "--to", "2026-03-08T04:00")
    assert [e["at"] for e in found] == ["2026-03-08T09:10:00.000Z"], shown.stdout
    assert "never happened in America/Denver" in shown.stderr


def test_evidence_to_a_repeated_time_keeps_both_hours(dst_calls):
    shown, found = _decisions(dst_calls, "--from", "2026-11-01", "--to", "2026-11-01T01:30")
    assert sorted(e["at"] for e in found) == ["2026-11-01T07:10:00.000Z",
                                              "2026-11-01T08:10:00.000Z"], shown.stdout
    assert "happened twice" in shown.stderr


def test_report_until_a_repeated_time_counts_both_hours(dst_calls):
    said = cli("report", "--json", "--tz", "America/Denver", "--since", "2026-11-01",
               "--until", "2026-11-01T01:30", config_path=dst_calls)
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)["calls"] == 2


def test_a_window_inside_the_gap_is_refused_as_such(dst_calls):
    said = cli("report", "--tz", "America/Denver", "--since", "2026-03-08T02:15",
               "--until", "2026-03-08T02:45", config_path=dst_calls)
    assert said.returncode == 2
    assert "the clocks skipped" in said.stderr
    assert "swap" not in said.stderr


@pytest.mark.parametrize(("command", "option", "text"), [
    ("report", "--until", "9999-12-31"), ("report", "--since", "0001-01-01"),
    ("report", "--since", "1000000d"), ("report", "--since", "99999999999d"),
    ("tail", "--until", "9999-12-31"), ("evidence", "--to", "9999-12-31"),
    ("evidence", "--from", "1899-12-31T23:00:00Z")])
def test_an_instant_outside_the_years_is_refused_clearly(dst_calls, command, option, text):
    path = dst_calls
    args = [command, option, text] + ([NUMBER] if command == "evidence" else [])
    said = cli(*args, config_path=path)
    assert said.returncode == 2, said.stderr
    assert "must fall in the years 1900-2999" in said.stderr


def test_a_leap_second_is_named_and_24_00_is_the_next_midnight(dst_calls):
    path = dst_calls
    said = cli("report", "--until", "2026-12-31T23:59:60Z", config_path=path)
    assert said.returncode == 2
    assert "leap second" in said.stderr
    said = cli("report", "--json", "--tz", "America/Denver", "--since", "2026-10-31",
               "--until", "2026-10-31T24:00:00", config_path=path)
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)["filters"]["until"] == "2026-11-01T00:00:00-06:00"


def test_the_demo_counts_no_call(tmp_path):
    demo = tmp_path / "demo"
    path = config(tmp_path, demo)
    shown = cli("demo", "--data-dir", str(demo), config_path=path)
    assert shown.returncode == 0, shown.stderr
    said = cli("report", "--json", config_path=path)
    assert said.returncode == 0, said.stderr
    figures = json.loads(said.stdout)
    assert (figures["calls"], figures["questions"]) == (0, 10), figures


def test_evidence_csv_says_places_call_in_its_own_column_as_the_json(tmp_path):
    """A question's verdict cell is the gate's verdict (a script keeping verdict == "ALLOW"
    missed "ALLOW (a question: no call placed)"); a column says whether a call was placed:
    a call is told apart from a question and a scrub."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = Factory(1)
    hashed, last4 = made.number(0)
    lines = []
    for minute, front, question in ((1, "fastagi", False), (2, "cli", True),
                                    (3, "scrub", False)):
        at = datetime(2026, 12, 7, 17, minute, tzinfo=UTC)
        record = made.decision(at, at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        record.update(schema=2, front=front, number_hash=hashed, number_last4=last4,
                      verdict="ALLOW", outcomes=[], linkedid="1.1")
        record.pop("rule", None)
        record.pop("reason", None)
        if question:
            record["places_call"] = False
        lines.append(orjson.dumps(record) + b"\n")
    (data / "compliance.jsonl").write_bytes(b"".join(lines))
    shown = cli("evidence", NUMBER, "--format", "csv", config_path=path)
    assert shown.returncode == 0, shown.stderr
    rows = [r for r in csv.DictReader(io.StringIO(shown.stdout)) if r["event"] == "decision"]
    assert [(r["front"], r["verdict"], r["places_call"]) for r in rows] == [
        ("fastagi", "ALLOW", "true"), ("cli", "ALLOW", "false"), ("scrub", "ALLOW", "false")]
    said = json.loads(cli("evidence", NUMBER, "--json", config_path=path).stdout)
    # the JSON's decisions are the records as logged: a question's says so, no other does
    assert [d.get("places_call") for d in said["decisions"]] == [None, False, None]


def test_evidence_text_says_a_scrub_placed_no_call(tmp_path):
    """The text and the page marked a question "(a question: no call placed)" but showed a
    scrub's decision as a bare ALLOW among the calls."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = Factory(1)
    hashed, last4 = made.number(0)
    at = datetime(2026, 12, 7, 17, 1, tzinfo=UTC)
    record = made.decision(at, at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    record.update(front="scrub", number_hash=hashed, number_last4=last4, verdict="ALLOW",
                  outcomes=[])
    record.pop("rule", None)
    (data / "compliance.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    shown = cli("evidence", NUMBER, config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert "ALLOW (a scrub: no call placed)" in " ".join(shown.stdout.split()), shown.stdout
    page = tmp_path / "evidence.html"
    assert cli("evidence", NUMBER, "--format", "html", "--output", str(page),
               config_path=path).returncode == 0
    assert "(a scrub: no call placed)" in page.read_text()
