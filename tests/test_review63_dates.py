"""A date option outside the years callguard answers for is a usage error (review hrev63).

hclk19 bounded `--at` to utc.YEARS (1900-2999 UTC), as HTTP's `at`: at 9999-12-31 the
calendar's next year does not exist and the command ended "internal error" (exit 3, a
traceback logged). A date option had the same edge: `consent add --expires 9999-12-31`,
the usual way of writing "no end" in a CRM export, counted to the day after it
(10000-01-01) and ended "internal error: OverflowError: date value out of range" (exit 3),
the consent not recorded and nothing saying why. Every YYYY-MM-DD option is read by
cli/common.py's parse_date, now bounded by utc.YEARS. The real command, empty data dir.
"""

from __future__ import annotations

import pytest

from tests.test_cli import USAGE, cli


@pytest.mark.parametrize("expires", ["9999-12-31", "0001-01-01", "9999-12-31T23:00:00-07:00",
                                     "0001-01-01T00:00:00+14:00"])
def test_consent_expires_outside_the_years_is_a_usage_error(tmp_path, expires: str) -> None:
    result = cli("consent", "add", "8015550123", "--solicitor", "beehive-solar",
                 "--kind", "written", "--granted", "2026-01-01T00:00:00Z",
                 "--expires", expires, data_dir=tmp_path)
    assert result.returncode == USAGE, result.stdout + result.stderr
    assert "years 1900-2999" in result.stderr
    assert "internal error" not in result.stdout + result.stderr


def test_consent_expires_on_the_last_day_is_recorded(tmp_path) -> None:
    result = cli("consent", "add", "8015550123", "--solicitor", "beehive-solar",
                 "--kind", "written", "--granted", "2026-01-01T00:00:00Z",
                 "--expires", "2999-12-31", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "holds through 2999-12-31" in result.stdout + result.stderr
