"""`callguard check --at` and `scrub --at` at the edges of time, as HTTP's `at` is judged.

HTTP's `/v1/check` refused an `at` outside the years 1900-2999 (UTC) and named a leap
second (`23:59:60`, which RFC 3339 spells and `datetime` cannot hold); the CLI's `--at`
took the years (9999-12-31 was an internal error, exit 3, with a traceback in the log;
0001-01-01T00:00:00+14:00, before year 1 in UTC, the same) and called a leap second "not
an ISO-8601 date-time". One instant, one answer on every front: a usage error (exit 2)
naming why. The real command in a subprocess, on an empty data dir (the instant is read
before anything else).
"""

from __future__ import annotations

import pytest

from tests.test_cli import USAGE, cli


@pytest.mark.parametrize("at", [
    "9999-12-31T12:00:00-07:00",
    "0001-01-01T00:00:00+14:00",
    "1899-12-31T12:00:00-07:00",
    "3000-01-01T00:00:00Z",
])
def test_check_at_outside_the_years_is_a_usage_error(tmp_path, at: str) -> None:
    result = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at", at,
                 data_dir=tmp_path)
    assert result.returncode == USAGE, result.stdout + result.stderr
    assert "years 1900-2999 (UTC)" in result.stderr
    assert "internal error" not in result.stdout + result.stderr


def test_check_at_leap_second_is_named(tmp_path) -> None:
    result = cli("check", "8015550123", "--campaign", "ut-solar-manual",
                 "--at", "2026-12-31T23:59:60Z", data_dir=tmp_path)
    assert result.returncode == USAGE, result.stdout + result.stderr
    assert "leap second" in result.stderr
    assert "2026-12-31T23:59:59Z" in result.stderr  # the second before it, to send


def test_scrub_at_outside_the_years_is_a_usage_error(tmp_path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n8015550123\n")
    result = cli("scrub", str(leads), "--campaign", "ut-solar-manual",
                 "--at", "9999-12-31T12:00:00-07:00", "--output", "-", data_dir=tmp_path)
    assert result.returncode == USAGE, result.stdout + result.stderr
    assert "years 1900-2999 (UTC)" in result.stderr


def test_the_years_edges_are_answered(tmp_path) -> None:
    """1900-01-01T00:00Z and 2999-12-31T23:59:59Z are inside: a verdict (BLOCK, exit 1:
    no law encoded that day, no list copy), not a usage error."""
    for at in ("1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z"):
        result = cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at", at,
                     data_dir=tmp_path)
        assert result.returncode == 1, at + result.stdout + result.stderr
