"""One source for the years a call's instant may be asked about (review hrev63).

hclk19 gave the CLI's `--at` the bounds of HTTP's `at` by copying them into utc.py,
while fronts/http/app.py kept its own `_YEARS` and leap-second pattern: two copies that
say one thing today and drift apart with the first edit of either (an `at` refused on
one front and answered on the other). HTTP now reads utc.py's, as the CLI does: moving
utc.YEARS moves both. Pure functions, no server.
"""

from __future__ import annotations

import pytest

from callguard import utc
from callguard.errors import UsageError
from callguard.fronts.http import app


def test_http_at_follows_utc_years(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utc, "YEARS", (2000, 2100))
    with pytest.raises(UsageError, match="2000-2100"):
        app._instant("2150-01-01T12:00:00Z")
    with pytest.raises(UsageError, match="2000-2100"):
        app._instant("1950-01-01T12:00:00Z")
    assert app._instant("2050-01-01T12:00:00Z").year == 2050


def test_http_and_cli_answer_the_edges_alike() -> None:
    """The bounds themselves, an instant with no UTC spelling, and a leap second."""
    for text in ("1900-01-01T00:00:00Z", "2999-12-31T23:59:59Z"):
        assert not utc.out_of_years(app._instant(text))
    for text in ("1899-12-31T23:59:59Z", "3000-01-01T00:00:00Z",
                 "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-07:00"):
        with pytest.raises(UsageError, match=r"years 1900-2999 \(UTC\)"):
            app._instant(text)
    with pytest.raises(UsageError, match="leap second"):
        app._instant("2026-12-31T23:59:60Z")
    assert utc.leap_second("2026-12-31T23:59:60Z") == "2026-12-31T23:59:59Z"
