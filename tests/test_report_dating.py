"""A question about another instant (`check --at`, a scrub) is dated when it was asked.

Found by a review: a scrub run on Friday for Monday was in the unfiltered report, but
`report --since MONDAY` answered 0 decisions, and `evidence --from MONDAY` found it before
`archive` and not after (the archive's days are the days records were made). Calls are
dated by their instant; the same query answers the same before and after archiving.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config, synthetic
from tests.test_supervisor_page import browser  # noqa: F401 - the headless chromium

NUMBER = "8015550123"


def _decisions(path, *window: str) -> int:
    result = cli("report", "--json", *window, config_path=path)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["decisions"])


def _evidence(path, *window: str) -> int:
    result = cli("evidence", NUMBER, "--json", *window, config_path=path)
    assert result.returncode == 0, result.stderr
    return len(json.loads(result.stdout)["decisions"])


def test_a_check_about_next_week_is_in_todays_report_archived_or_not(tmp_path):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    now = datetime.now(UTC)
    later = (now + timedelta(days=7)).replace(hour=18, minute=0, second=0, microsecond=0)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                later.isoformat(), config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    today = ("--since", (now - timedelta(hours=1)).isoformat(),
             "--until", (now + timedelta(hours=1)).isoformat())
    that_day = ("--since", later.date().isoformat(),
                "--until", (later.date() + timedelta(days=1)).isoformat())
    assert (_decisions(path, *today), _decisions(path, *that_day)) == (1, 0)
    found = (_evidence(path, "--from", today[1], "--to", today[3]),
             _evidence(path, "--from", that_day[1], "--to", that_day[3]))
    assert found == (1, 0)
    log = data / "compliance.jsonl"
    log.rename(stamp_name(log, datetime.now(UTC)))  # closed, as the writer rotates it
    archived = cli("archive", "--compact-all", "--json", config_path=path)
    assert archived.returncode == 0, archived.stderr
    assert json.loads(archived.stdout)["decisions"] == 1
    assert (_decisions(path, *today), _decisions(path, *that_day)) == (1, 0)
    assert (_evidence(path, "--from", today[1], "--to", today[3]),
            _evidence(path, "--from", that_day[1], "--to", that_day[3])) == found


def test_evidence_of_a_decision_that_is_not_there_says_so(tmp_path):
    (tmp_path / "data").mkdir()  # made by its owner: callguard makes none
    path = config(tmp_path, tmp_path / "data")
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                datetime.now(UTC).isoformat(), config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    malformed = cli("evidence", "--decision", "not-an-id", config_path=path)
    assert malformed.returncode == 2
    assert "--decision" in malformed.stderr
    unknown = cli("evidence", "--decision", "01a2415c-0000-7000-8000-000000000000",
                  config_path=path)
    assert unknown.returncode == 1
    assert "no decision" in unknown.stderr


def _calls_at(path, instants: list[str]) -> None:
    """A node's log holding one FastAGI ALLOW per instant (dated by ``at``)."""
    template = next(orjson.loads(line) for line in synthetic(2, start=datetime(
        2026, 11, 1, tzinfo=UTC), days=1) if b'"decision"' in line)
    lines = []
    for index, at in enumerate(instants):
        record = {**template, "at": at, "logged_at": at, "front": "fastagi",
                  "verdict": "ALLOW", "campaign": "ut-solar-manual",
                  "decision_id": str(uuid.UUID(int=(0x01A2 << 112) | (7 << 76) | (2 << 62)
                                               | index))}
        record.pop("rule", None)
        record.pop("reason", None)
        record.pop("outcomes", None)
        lines.append(orjson.dumps(record) + b"\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))


def test_report_dates_are_days_of_its_time_zone(tmp_path):
    """`report --tz America/Denver --since 2026-12-01 --until 2026-12-10` is Denver's
    1st to 9th: a call at 23:00 on the 30th (06:00 UTC on the 1st) is out, one at 20:00
    on the 9th (03:00 UTC on the 10th) is in; the dates were read as UTC midnights."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    _calls_at(data / "compliance.jsonl", ["2026-12-01T06:00:00.000Z",
                                          "2026-12-01T18:00:00.000Z",
                                          "2026-12-10T03:00:00.000Z"])
    result = cli("report", "--json", "--tz", "America/Denver", "--since", "2026-12-01",
                 "--until", "2026-12-10", config_path=path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert {row["day"]: row["calls"] for row in figures["days"] if row["calls"]} == {
        "2026-12-01": 1, "2026-12-09": 1}
    assert figures["filters"]["from"] == "2026-12-01T00:00:00-07:00"
    assert figures["filters"]["until"] == "2026-12-10T00:00:00-07:00"
    utc = json.loads(cli("report", "--json", "--since", "2026-12-01", "--until",
                         "2026-12-10", config_path=path).stdout)
    assert utc["calls"] == 2  # UTC days: the 1st's two calls, not the 10th's
    # without --until the range ends with the last record, wherever "now" is (it said
    # "until: now" over calls dated after now)
    open_ended = json.loads(cli("report", "--json", config_path=path).stdout)
    assert (open_ended["calls"], open_ended["filters"]["until"]) == (3, "the last record")


def test_every_day_of_the_range_is_in_every_rendering(tmp_path, browser):  # noqa: F811
    """Days without calls are rows too — in the terminal (as before), the page's table of
    calls by day (read back from a real headless chromium), the CSV and the JSON's
    ``range_days`` — so a quiet day reads 0, not 'not reported'."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    _calls_at(data / "compliance.jsonl", ["2026-12-01T18:00:00.000Z",
                                          "2026-12-04T18:00:00.000Z"])
    window = ("--since", "2026-12-01", "--until", "2026-12-06")
    every = ["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"]
    page = tmp_path / "report.html"
    shown = cli("report", *window, "--campaign", "ut-solar-manual", "--html", str(page),
                config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert [day for day in every if day in shown.stdout] == every
    browser.get(page.as_uri())
    tables = browser.find_elements("css selector", "table")
    by_day = next(t for t in tables if "verdict" in t.text and "day" in t.text)
    cells = [row.find_elements("css selector", "td") for row in
             by_day.find_elements("css selector", "tbody tr")]
    assert [c[0].text for c in cells] == every
    assert {c[0].text: c[-1].text for c in cells} == {
        "2026-12-01": "1", "2026-12-02": "0", "2026-12-03": "0", "2026-12-04": "1",
        "2026-12-05": "0"}
    header = browser.find_element("css selector", "p").text
    assert "from: 2026-12-01" in header, header
    assert "campaign: ut-solar-manual" in header, header
    rows = list(csv.DictReader(io.StringIO(cli("report", *window, "--csv",
                                               config_path=path).stdout)))
    assert sorted({row["day"] for row in rows}) == every
    assert {row["day"]: row["count"] for row in rows if row["day"] == "2026-12-02"} == {
        "2026-12-02": "0"}
    figures = json.loads(cli("report", *window, "--json", config_path=path).stdout)
    assert figures["range_days"] == every
    assert sum(row["calls"] for row in figures["days"]) == 2


def test_evidence_shows_when_each_decision_was_made_beside_its_instant(tmp_path):
    """Decisions are listed in the order they were made (logged_at), but the text and the
    page showed only `at`: a check about next week sat among today's calls with next
    week's date and no word of when it was asked."""
    (tmp_path / "data").mkdir()  # made by its owner: callguard makes none
    path = config(tmp_path, tmp_path / "data")
    later = (datetime.now(UTC) + timedelta(days=7)).replace(hour=18, minute=0, second=0,
                                                            microsecond=0)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at", later.isoformat(),
                config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    text = cli("evidence", NUMBER, config_path=path)
    assert text.returncode == 0, text.stderr
    assert "logged (UTC)" in text.stdout
    (row,) = [line for line in text.stdout.splitlines() if "ut-solar-manual" in line]
    assert later.strftime("%Y-%m-%dT%H:%M:%SZ") in row  # UTC, and saying so in the cell
    assert datetime.now(UTC).strftime("%Y-%m-%dT") in row
    page = tmp_path / "evidence.html"
    assert cli("evidence", NUMBER, "--format", "html", "--output", str(page),
               config_path=path).returncode == 0
    head = page.read_text().split("<h2>Decisions")[1].split("</tr>")[0]
    assert "<th>logged at (UTC)</th>" in head, head


def test_first_and_last_are_in_the_zone_asked_for_in_every_rendering(tmp_path,
                                                                     browser):  # noqa: F811
    """`report --tz America/Denver` printed its first and last decision in UTC (…Z /
    +00:00) beside days counted in Denver: a call at 03:00 UTC on the 10th read as the
    10th in a report whose last day is the 9th. Now each is Denver's wall time with its
    offset — the terminal, the JSON, each CSV row and the page."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    _calls_at(data / "compliance.jsonl", ["2026-12-01T18:00:00.000Z",
                                          "2026-12-10T03:00:00.000Z"])
    zone = ("--tz", "America/Denver")
    first, last = "2026-12-01T11:00:00.000-07:00", "2026-12-09T20:00:00.000-07:00"
    shown = cli("report", *zone, config_path=path)
    assert shown.returncode == 0, shown.stderr
    assert f"({first} … {last})" in " ".join(shown.stdout.split()), shown.stdout
    figures = json.loads(cli("report", "--json", *zone, config_path=path).stdout)
    assert (figures["first"], figures["last"]) == (first, last)
    rows = list(csv.DictReader(io.StringIO(cli("report", "--csv", *zone,
                                               config_path=path).stdout)))
    spans = {row["day"]: (row["first"], row["last"]) for row in rows if row["count"] != "0"}
    assert spans == {"2026-12-01": (first, first), "2026-12-09": (last, last)}
    assert {(row["first"], row["last"]) for row in rows if row["count"] == "0"} == {("", "")}
    page = tmp_path / "report.html"
    assert cli("report", *zone, "--html", str(page), config_path=path).returncode == 0
    browser.get(page.as_uri())
    header = " ".join(p.text for p in browser.find_elements("css selector", "p"))
    assert f"first decision {first}, last {last} (America/Denver)" in header, header
    utc = json.loads(cli("report", "--json", config_path=path).stdout)
    assert (utc["first"], utc["last"]) == ("2026-12-01T18:00:00.000Z",  # as the records
                                           "2026-12-10T03:00:00.000Z")


def test_the_page_aligns_text_left_and_figures_right_and_a_day_is_a_bar(tmp_path,
                                                                       browser):  # noqa: F811
    """Every cell but the first was right-aligned, so campaign, verdict and rule read
    ragged under left-aligned headers; and a one-day report drew its day as a 520-pixel
    wall. Read back from a real headless chromium."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    _calls_at(data / "compliance.jsonl", ["2026-12-01T18:00:00.000Z"])
    page = tmp_path / "report.html"
    assert cli("report", "--html", str(page), config_path=path).returncode == 0
    browser.get(page.as_uri())
    tables = browser.find_elements("css selector", "table")
    by_day = next(t for t in tables if "verdict" in t.text and "day" in t.text)

    def aligned(element):
        return element.value_of_css_property("text-align")

    heads = by_day.find_elements("css selector", "th")
    cells = by_day.find_elements("css selector", "tbody td")
    assert [h.text for h in heads] == ["day", "campaign", "verdict", "rule", "calls"]
    assert [aligned(h) for h in heads] == ["left"] * 4 + ["right"]
    assert [aligned(c) for c in cells] == ["left"] * 4 + ["right"]
    bars = browser.find_elements("css selector", "svg rect")
    assert bars
    assert max(int(b.get_attribute("width")) for b in bars[:1]) <= 48


def test_the_pages_say_the_zone_of_every_time_and_draw_no_blank_chart(tmp_path,
                                                                      browser):  # noqa: F811
    """Read from a real headless chromium. The evidence page's decision table headed its
    instants `logged_at` and `at` (UTC only by their `Z`) and left the called party's
    local time, which the calling-hour rules read, to the reader's arithmetic (as did
    `explain`, whose `at:` line did not say UTC); the report
    page had two headings "Calls by campaign", a blank strip for a chart without data and
    no legend for its green and red bars."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)  # made by its owner: callguard makes none
    path = config(tmp_path, data)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                "2026-12-07T10:00:00-07:00", "--json", config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    explained = cli("explain", json.loads(asked.stdout)["decision_id"], config_path=path)
    assert explained.returncode == 0, explained.stderr
    said = " ".join(explained.stdout.split())
    assert "at: 2026-12-07T17:00:00.000Z (UTC; logged " in said
    assert "called party's local time: 2026-12-07 10:00 -07:00 America/Denver" in said
    page = tmp_path / "evidence.html"
    made = cli("evidence", NUMBER, "--format", "html", "--output", str(page),
               config_path=path)
    assert made.returncode == 0, made.stderr
    browser.get(page.as_uri())
    decisions = browser.find_elements("css selector", "table")[0]
    headings = [h.text for h in decisions.find_elements("css selector", "th")]
    assert headings[:3] == ["logged at (UTC)", "call at (UTC)", "called party's local time"]
    cells = [c.text for c in decisions.find_elements("css selector", "tbody td")]
    assert cells[1] == "2026-12-07T17:00:00.000Z"
    assert cells[2] == "2026-12-07 10:00 -07:00 America/Denver"
    assert browser.find_element("css selector", "html").get_attribute("lang") == "en"

    _calls_at(data / "compliance.jsonl", ["2026-12-01T18:00:00.000Z"])  # one ALLOW
    report = tmp_path / "report.html"
    shown = cli("report", "--html", str(report), config_path=path)
    assert shown.returncode == 0, shown.stderr
    browser.get(report.as_uri())
    titles = [h.text for h in browser.find_elements("css selector", "h2")]
    assert len(titles) == len(set(titles)), titles
    after = {h.text: h.find_element("xpath", "following-sibling::*[1]")
             for h in browser.find_elements("css selector", "h2")}
    assert after["Blocked calls by deciding rule"].text == "none"  # no block: no chart
    legend = after["Calls per day (UTC), ALLOW and BLOCK"]
    assert legend.tag_name == "p"
    assert legend.text == "■ ALLOW ■ BLOCK"
