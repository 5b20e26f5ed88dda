"""review 61: a report of many days and many rows renders in seconds (session 22).

hoff18 made a range of more than ten years list every day (3,650+ days, not the days with
records alone). The terminal's table and the page summed each day's cells over the whole
table (``Report.total`` per day and campaign: days x rows), and ``_day_rows`` listed each
day's rows the same way: twelve years of records took 17 s for the terminal and 31 s with
``--html`` (CSV and JSON: under a second). Each is one pass over the table now, with the
same figures.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.compliance import report as figures

DAYS = 400
RULES = 50  # rows per day and verdict: the table is DAYS x 2 x RULES rows


@pytest.fixture
def done():
    report = figures.Report(figures.ReportQuery(), datetime(2026, 12, 7, tzinfo=UTC))
    first = date(2025, 1, 1)
    report.days = [(first + timedelta(days=i)).isoformat() for i in range(DAYS)]
    for day in report.days[::2]:  # every other day quiet
        for rule in range(RULES):
            report.calls[(day, "ut-solar", "BLOCK", f"us-ut:r{rule}")] = 2
            report.calls[(day, "ut-solar", "ALLOW", f"x{rule}")] = 1
        report.scrubs[(day, "ut-solar", "ALLOW", "")] = 3
        report.questions[(day, "ut-solar", "ALLOW", "")] = 4
    return report


def test_the_page_of_many_days_is_one_pass(done):
    started = time.monotonic()
    page = figures.render_html(done)
    assert time.monotonic() - started < 2  # days x rows: 6 s on this machine; now 0.2
    assert page.count("<tr>") >= DAYS  # every day has its row, a quiet one of 0
    assert f"{RULES * 2 * DAYS // 2:,}" in page  # the blocks of the range, one figure
    rows = figures._day_rows(done.calls, done.days)
    assert len(rows) == DAYS // 2 * 2 * RULES + DAYS // 2
    assert rows[0][:2] == ["2025-01-01", "ut-solar"]
    assert rows[2 * RULES] == ["2025-01-02", "-", "-", "-", 0]


def test_the_terminal_s_table_of_many_days_is_one_pass(done, monkeypatch):
    from rich.console import Console

    from callguard.cli import logs, output

    shown = Console(file=io.StringIO(), width=200)
    monkeypatch.setattr(output, "console", lambda: shown)
    started = time.monotonic()
    logs._report_tables(done)
    assert time.monotonic() - started < 2  # days x rows: 6.5 s on this machine; now 0.2
    text = shown.file.getvalue()
    day = next(line for line in text.splitlines() if "2025-01-01" in line)
    assert day.replace("│", " ").split()[:6] == [
        "2025-01-01", "ut-solar", "50", str(2 * RULES), "3", "4"], day
    quiet = next(line for line in text.splitlines() if "2025-01-02" in line)
    assert quiet.replace("│", " ").split()[:6] == [
        "2025-01-02", "-", "0", "0", "0", "0"], quiet


def test_a_century_with_no_record_lists_no_day():
    """`report --since 2000-01-01 --until 2100-01-01 --verdict ALLOW` with nothing matched:
    hoff18's long range starts at the first record and ends at the last, and with none it
    listed all 36,525 days as rows of 0 (5 MB of CSV; 13 s and 36,543 lines in the
    terminal). A range of ten years or less keeps every day, records or not."""
    empty = figures.Report(figures.ReportQuery(since=datetime(2000, 1, 1, tzinfo=UTC),
                                               until=datetime(2100, 1, 1, tzinfo=UTC)),
                           datetime(2026, 12, 7, tzinfo=UTC))
    assert figures._every_day(empty, empty.query) == []
    year = figures.Report(figures.ReportQuery(since=datetime(2026, 1, 1, tzinfo=UTC),
                                              until=datetime(2027, 1, 1, tzinfo=UTC)),
                          datetime(2026, 12, 7, tzinfo=UTC))
    assert len(figures._every_day(year, year.query)) == 365
