"""hexp25: a list copy is warned about within its own window, not ``expiry_warning_days``.

With the default 30 days and the national copy's 31-day age limit (47 CFR
64.1200(c)(2)(i)(D)), every copy older than about one day was warned about at start, in
``/readyz`` and in ``callguard_law_ends_in_seconds``: on nearly all the time at a site
importing daily or monthly, so the one warning that mattered was learnt to be ignored. A
copy is now warned about when a quarter of its usable life remains (rounded up; the national
copy: 8 of its 32 days; a quarterly state listing: about 23), never earlier than
``expiry_warning_days``, or within ``[lists] copy_warning_days`` when the site sets it.
Packs and calendars keep ``expiry_warning_days``.
"""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from callguard.fronts.http.readiness import Check
from callguard.law_expiry import ExpiryReadiness, LawExpiry
from callguard.policy import pack_from_mapping
from callguard.policy.expiry import expiry_warnings
from tests.conftest import PACKS
from tests.test_config import write
from tests.test_config_check import cli
from tests.test_expiry import _Lists, ut_doc

TODAY = date(2026, 12, 7)


def _lists_warned(found):
    return [(w.name, w.ends, w.days_left) for w in found if w.kind == "list"]


class TestPure:
    """``expiry_warnings`` with dates: the list window against the packs' window."""

    @pytest.mark.parametrize("age", [2, 6, 23])
    def test_a_young_national_copy_is_quiet_with_the_defaults(self, age):
        """The walk-through's case (hnew25): a copy of 2 days or more was warned about
        (6 days old: "stale from 2027-01-02 (in 26 days)"); until 24 days old it is quiet."""
        found = expiry_warnings(PACKS, TODAY, 30, {"national": TODAY - timedelta(days=age)})
        assert found == []

    def test_the_national_copy_warns_from_a_quarter_of_its_life(self):
        """Usable for 32 days (published day + 31): warned with 8 days left, not 9."""
        published = date(2026, 11, 1)  # first stale 2026-12-03
        quiet = expiry_warnings(PACKS, date(2026, 11, 24), 30, {"national": published})
        assert quiet == []
        warned = expiry_warnings(PACKS, date(2026, 11, 25), 30, {"national": published})
        assert _lists_warned(warned) == [("national", date(2026, 12, 3), 8)]
        assert "stale from 2026-12-03 (in 8 days): import a newer copy" in warned[0].message

    def test_a_three_month_list_warns_proportionally(self):
        """ok-state (us-ok, 3 months): published 2026-10-01, usable to 2027-01-01, first stale
        2027-01-02 (93 days): warned with 24 days left, not 25."""
        published = {"ok-state": date(2026, 10, 1)}
        assert expiry_warnings(PACKS, date(2026, 12, 8), 30, published) == []
        assert _lists_warned(expiry_warnings(PACKS, date(2026, 12, 9), 30, published)) == [
            ("ok-state", date(2027, 1, 2), 24)]

    def test_a_superseded_listing_counts_the_life_it_has(self):
        """fl-state (quarterly, superseded on 01-01): published 2026-10-01, stale from
        2027-01-01 (92 days): warned with 23 days left."""
        published = {"fl-state": date(2026, 10, 1)}
        assert expiry_warnings(PACKS, date(2026, 12, 8), 30, published) == []
        assert _lists_warned(expiry_warnings(PACKS, date(2026, 12, 9), 30, published)) == [
            ("fl-state", date(2027, 1, 1), 23)]

    def test_a_narrower_expiry_warning_days_still_bounds_the_lists(self):
        """A site that set expiry_warning_days = 5 was warned 5 days ahead: it still is."""
        published = {"national": date(2026, 11, 1)}  # first stale 2026-12-03
        assert expiry_warnings(PACKS, date(2026, 11, 27), 5, published) == []
        assert _lists_warned(expiry_warnings(PACKS, date(2026, 11, 28), 5, published)) == [
            ("national", date(2026, 12, 3), 5)]

    @pytest.mark.parametrize(("copy_days", "quiet", "warned"), [
        (3, date(2026, 11, 29), date(2026, 11, 30)),
        # the site's own number wins, even above expiry_warning_days (30)
        (31, date(2026, 11, 1), date(2026, 11, 2)),
    ])
    def test_copy_warning_days_sets_the_list_window(self, copy_days, quiet, warned):
        published = {"national": date(2026, 11, 1)}  # first stale 2026-12-03
        assert expiry_warnings(PACKS, quiet, 30, published, copy_days=copy_days) == []
        (found,) = expiry_warnings(PACKS, warned, 30, published, copy_days=copy_days)
        assert found.days_left == copy_days

    def test_stale_and_undated_copies_are_always_reported(self):
        stale = expiry_warnings(PACKS, TODAY, 30, {"national": TODAY - timedelta(days=40)},
                                copy_days=1)
        assert _lists_warned(stale) == [("national", TODAY - timedelta(days=8), -8)]
        (undated,) = expiry_warnings(PACKS, TODAY, 30, {"national": None}, copy_days=1)
        assert "no published date" in undated.message

    def test_packs_keep_expiry_warning_days(self):
        """A pack ending in 29 days still warns under 30 beside a fresh list copy."""
        pack = pack_from_mapping(ut_doc(effective_until=TODAY + timedelta(days=29)))
        packs = {**PACKS, "us-ut": pack}
        found = expiry_warnings(packs, TODAY, 30, {"national": TODAY}, copy_days=1)
        assert [(w.kind, w.name, w.days_left) for w in found] == [("pack", "us-ut", 29)]


class TestConfig:
    """``[lists] copy_warning_days``: checked as every key is; unset, the proportional rule."""

    def test_default_is_unset_and_expiry_warning_days_is_kept(self, tmp_path):
        settings = load_settings(write(tmp_path, "expiry_warning_days = 45\n"))
        assert (settings.expiry_warning_days, settings.list_copy_warning_days) == (45, None)

    def test_set(self, tmp_path):
        settings = load_settings(write(tmp_path, "[lists]\ncopy_warning_days = 7\n"))
        assert settings.list_copy_warning_days == 7

    @pytest.mark.parametrize(("body", "message"), [
        ("[lists]\ncopy_warning_day = 7\n", "[lists]: unknown key(s) copy_warning_day"),
        ("copy_warning_days = 7\n", "[callguard]: unknown key(s) copy_warning_days"),
        ("[lists]\ncopy_warning_days = 0\n", "[lists]: copy_warning_days must be from 1 to"),
        ("[lists]\ncopy_warning_days = 3661\n", "copy_warning_days must be from 1 to 3660"),
        ("[lists]\ncopy_warning_days = true\n", "copy_warning_days must be an integer, got "
                                                "true"),
        ("[lists]\ncopy_warning_days = '7'\n", "copy_warning_days must be an integer, got '7'"),
    ])
    def test_refused(self, tmp_path, body, message):
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, body))
        assert message in str(caught.value)

    def test_config_check_refuses_it(self, tmp_path):
        """The real ``callguard config check``, on a site ``init`` wrote."""
        made = cli("init", str(tmp_path / "site"))
        assert made.returncode == 0, made.stderr
        config = tmp_path / "site" / "callguard.toml"
        text = config.read_text()
        config.write_text(text.replace("[lists]\n", "[lists]\ncopy_warning_day = 7\n", 1))
        result: subprocess.CompletedProcess[str] = cli("--config", str(config), "config",
                                                       "check")
        assert result.returncode != 0
        assert "unknown key(s) copy_warning_day" in result.stdout + result.stderr
        config.write_text(text.replace("[lists]\n", "[lists]\ncopy_warning_days = 7\n", 1))
        fine = cli("--config", str(config), "config", "check")
        assert "copy_warning_day" not in fine.stdout + fine.stderr


class TestOnTheNode:
    """``LawExpiry`` (start, /readyz, metric) reads both windows from the settings."""

    def expiry(self, published, body="", tmp_path=None) -> LawExpiry:
        settings = load_settings(write(tmp_path, body)) if tmp_path else load_settings()
        return LawExpiry(settings, _Lists(published),
                         clock=lambda: datetime(2026, 12, 7, 12, tzinfo=UTC))

    def test_a_six_day_old_copy_is_quiet_in_readyz(self):
        """The walk-through's /readyz (hnew25) showed "stale from 2027-01-02 (in 26 days)"."""
        class _Inner:
            async def run(self):
                return [Check("clock", True, "synchronised")]

        expiry = self.expiry({"national": date(2026, 12, 1)})
        assert expiry.warnings() == []
        readiness = ExpiryReadiness(_Inner(), expiry)  # type: ignore[arg-type]
        detail = asyncio.run(readiness.run())[-1].detail
        assert detail == ("nothing ends within 30 days (a list copy: within a quarter of its "
                          "usable life, at most 30 days)")

    def test_the_sites_copy_warning_days_reaches_the_node(self, tmp_path):
        expiry = self.expiry({"national": date(2026, 11, 20)},  # first stale 2026-12-22
                             "[lists]\ncopy_warning_days = 15\n", tmp_path)
        assert _lists_warned(expiry.warnings()) == [("national", date(2026, 12, 22), 15)]
        quiet = self.expiry({"national": date(2026, 11, 20)}, "", tmp_path)
        assert quiet.warnings() == []
