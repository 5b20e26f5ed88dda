"""`callguard packs check|show`, refused future list dates, and `consent add --expires`,
through the real command in a subprocess."""

from __future__ import annotations

import json
import shutil
import tomllib
from datetime import UTC, date, datetime, timedelta

import pytest

from callguard.cli.records import consent_expiry
from callguard.numbers import NumberParser
from tests.conftest import PACKS_DIR
from tests.test_cli import ALLOW, BLOCK, USAGE, cli

# The shipped us-ut pack's version (bumped by each change of its rules or notes).
UT_VERSION = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())["pack"]["version"]


def _case_count(name: str) -> int:
    """How many statute cases a shipped cases file holds (the check must run them all)."""
    with (PACKS_DIR / name).open("rb") as handle:
        return len(tomllib.load(handle)["cases"])


@pytest.fixture
def packs_copy(tmp_path):
    """A copy of the shipped packs and their cases, to break one on purpose."""
    target = tmp_path / "jurisdictions"
    shutil.copytree(PACKS_DIR, target)
    return target


class TestPacksCheck:
    """A pack file is checked whole, and the statute cases beside it are run."""

    def test_shipped_pack_is_valid_and_its_cases_pass(self, tmp_path):
        result = cli("packs", "check", str(PACKS_DIR / "us-ut.toml"), data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stdout + result.stderr
        assert f"valid us-ut {UT_VERSION} (statute)" in " ".join(result.stdout.split())
        total = _case_count("us-ut.tests.toml")
        assert f"statute cases us-ut.tests.toml: {total} of {total} pass" in result.stdout

    def test_a_typo_is_refused_naming_file_rule_key_and_allowed_keys(self, tmp_path,
                                                                       packs_copy):
        path = packs_copy / "us-ut.toml"
        path.write_text(path.read_text().replace("ebr_after_transaction_months = 18",
                                                 "ebr_after_transaction_month = 18"))
        result = cli("packs", "check", str(path), data_dir=tmp_path)
        assert result.returncode == USAGE
        message = " ".join(result.stderr.split())
        for fragment in (str(path), "rule us-ut:13-25a-103(2)",
                         "unknown key 'ebr_after_transaction_month'", "allowed keys:",
                         "ebr_after_transaction_months"):
            assert fragment in message, message

    def test_a_failing_case_exits_1_with_the_difference(self, tmp_path, packs_copy):
        cases = packs_copy / "us-ut.tests.toml"
        cases.write_text(cases.read_text().replace(
            'name = "13-25a-103(3): Saturday 2026-07-25 is callable"\n'
            'words = "13-25a-103(3)(b)-(c): on a Sunday or on a legal holiday"\n'
            "at = 2026-07-25T11:00:00-06:00",
            'name = "13-25a-103(3): Saturday 2026-07-25 is callable"\n'
            'words = "13-25a-103(3)(b)-(c): on a Sunday or on a legal holiday"\n'
            "at = 2026-07-26T11:00:00-06:00"))
        result = cli("packs", "check", str(packs_copy / "us-ut.toml"), data_dir=tmp_path)
        assert result.returncode == BLOCK
        assert "FAIL 13-25a-103(3): Saturday 2026-07-25 is callable" in result.stdout
        assert "verdict BLOCK, expected ALLOW" in result.stdout
        total = _case_count("us-ut.tests.toml")
        assert f"{total - 1} of {total} pass" in result.stdout

    def test_a_cases_file_can_be_checked_alone(self, tmp_path):
        result = cli("packs", "check", str(PACKS_DIR / "us-federal.tests.toml"),
                     data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stdout + result.stderr
        total = _case_count("us-federal.tests.toml")
        assert f"{total} of {total} pass" in result.stdout

    def test_a_pack_without_cases_fails_unless_accepted(self, tmp_path, packs_copy):
        """No cases file beside a valid pack: nothing was tested, so exit 1, not 0."""
        (packs_copy / "us-ut.tests.toml").unlink()
        path = str(packs_copy / "us-ut.toml")
        result = cli("packs", "check", path, data_dir=tmp_path)
        assert result.returncode == BLOCK, result.stdout + result.stderr
        text = " ".join(result.stdout.split())
        assert f"valid us-ut {UT_VERSION}" in text
        assert ("no statute cases: us-ut.tests.toml is missing beside the pack; a pack with "
                "no cases proves nothing (pass --allow-no-cases to accept it untested)") in text
        accepted = cli("packs", "check", path, "--allow-no-cases", data_dir=tmp_path)
        assert accepted.returncode == ALLOW, accepted.stdout + accepted.stderr
        assert "accepted (--allow-no-cases): nothing about this pack was tested" in " ".join(
            accepted.stdout.split())

    @pytest.mark.parametrize("target", ["us-ut.toml", "us-ut.tests.toml"])
    def test_an_empty_cases_file_fails_unless_accepted(self, tmp_path, packs_copy, target):
        """A cases file with no case ("0 of 0 pass") proves nothing either."""
        cases = packs_copy / "us-ut.tests.toml"
        head = cases.read_text().split("[[cases]]", 1)[0]
        cases.write_text("cases = []\n" + head)  # top-level, before the campaign tables
        result = cli("packs", "check", str(packs_copy / target), data_dir=tmp_path)
        assert result.returncode == BLOCK, result.stdout + result.stderr
        assert "no statute cases: us-ut.tests.toml holds no case" in " ".join(
            result.stdout.split())
        accepted = cli("packs", "check", str(packs_copy / target), "--allow-no-cases",
                       data_dir=tmp_path)
        assert accepted.returncode == ALLOW, accepted.stdout + accepted.stderr

    def test_expiry_warning_for_a_pack_ending_soon(self, tmp_path, packs_copy):
        path = packs_copy / "us-ut.toml"
        path.write_text(path.read_text().replace("effective_from = 2025-01-01\nsource",
                                                 "effective_from = 2025-01-01\n"
                                                 "effective_until = 2027-01-01\nsource", 1))
        result = cli("packs", "check", str(path), "--on", "2026-12-10", data_dir=tmp_path)
        text = " ".join(result.stdout.split())
        assert f"warning pack us-ut {UT_VERSION} ends on 2027-01-01 (in 22 days)" in text


    def test_a_mistyped_on_is_refused_before_any_verdict(self, tmp_path):
        """`--on 2026-13-01` printed "valid us-ut ..." and then exited 2: refused first,
        with nothing said about the pack (nor its cases run, for a cases file)."""
        for name in ("us-ut.toml", "us-ut.tests.toml"):
            result = cli("packs", "check", str(PACKS_DIR / name), "--on", "2026-13-01",
                         data_dir=tmp_path)
            assert result.returncode == USAGE, result.stdout + result.stderr
            assert "--on '2026-13-01' is not a date" in result.stderr
            assert result.stdout == ""


class TestPacksShow:
    """What applies on a date: citations, parameters and their version, notes, readings."""

    def test_show_prints_rules_notes_and_calendar(self, tmp_path):
        result = cli("packs", "show", "us-ut", "--on", "2027-06-01", data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stderr
        out = result.stdout
        assert "us-ut:13-25a-103(3):hours  [calling-hours]  Utah Code 13-25a-103(3)(a)" in out
        assert "interpretation us-ut:between-hours" in out
        assert "-> ends-forbidden" in out
        assert "2027-06-18 Juneteenth National Freedom Day" in out
        assert "note: 'Unsolicited telephone call' is not defined" in out

    def test_show_json_names_the_site_choice(self, tmp_path):
        config = tmp_path / "c.toml"
        config.write_text(f"[callguard]\npacks_dir = '{PACKS_DIR}'\n[interpretations]\n"
                          "'us-federal:predictive-dialers' = 'not-autodialed'\n")
        result = cli("--config", str(config), "packs", "show", "us-federal", "--json",
                     data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stderr
        data = json.loads(result.stdout)
        reading = next(i for i in data["interpretations"]
                       if i["id"] == "us-federal:predictive-dialers")
        assert (reading["chosen"], reading["default"]) == ("not-autodialed", "autodialed")
        rule = next(r for r in data["rules"] if r["id"] == "us-federal:64.1200(a)(2)")
        assert rule["modes"] == ["prerecorded"]
        assert rule["version"] == "2021-11-01; us-federal:predictive-dialers=not-autodialed"
        assert data["kind"] == "statute"
        assert data["enabled"] is True

    def test_unknown_pack(self, tmp_path):
        result = cli("packs", "show", "us-mars", data_dir=tmp_path)
        assert result.returncode == USAGE
        assert "unknown pack 'us-mars'" in result.stderr


class TestListDates:
    """A registry copy dated in the future is refused at import (issue 17, kind 3)."""

    def test_future_published_date_is_a_usage_error(self, tmp_path):
        listing = tmp_path / "list.txt"
        listing.write_text("8015550199\n")
        future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
        result = cli("dnc", "import", str(listing), "--list", "national", "--published",
                     future, data_dir=tmp_path)
        assert result.returncode == USAGE
        assert "is in the future" in " ".join(result.stderr.split())
        status = cli("dnc", "status", "--json", data_dir=tmp_path)
        assert json.loads(status.stdout)["lists"] == []  # nothing was published

    def test_today_is_accepted(self, tmp_path):
        listing = tmp_path / "list.txt"
        listing.write_text("8015550199\n")
        today = datetime.now(UTC).date().isoformat()
        result = cli("dnc", "import", str(listing), "--list", "national", "--published",
                     today, data_dir=tmp_path)
        assert result.returncode == ALLOW, result.stderr


class TestConsentExpiry:
    """`--expires DATE` is the last day the consent holds, the called party's local date."""

    PARSER = NumberParser()

    def test_a_date_ends_when_that_day_ends_in_the_number_s_zone(self):
        ends = consent_expiry("2027-01-31", self.PARSER.parse("8015550123"))
        assert ends == datetime(2027, 2, 1, 7, 0, tzinfo=UTC)  # midnight MST

    def test_several_zones_end_with_the_first_of_them(self):
        """South Dakota's 605 (Mountain and Central): the Central midnight comes first."""
        info = self.PARSER.parse("6055550123")
        assert len(info.zones) > 1
        ends = consent_expiry("2027-01-31", info)
        assert ends == datetime(2027, 2, 1, 6, 0, tzinfo=UTC)

    def test_an_instant_is_the_exclusive_end_itself(self):
        ends = consent_expiry("2027-01-31T12:00:00-07:00", self.PARSER.parse("8015550123"))
        assert ends == datetime(2027, 1, 31, 19, 0, tzinfo=UTC)

    def test_through_the_command_the_consent_holds_on_its_last_day_evening(self, tmp_path):
        """A written consent expiring on a day still allows a predictive call at 20:30 that
        day in Utah, and not on the next day."""
        listing = tmp_path / "list.txt"
        listing.write_text("8015550100\n")
        today = datetime.now(UTC).date()
        for name in ("national", "ut-state"):
            cli("dnc", "import", str(listing), "--list", name, "--published",
                today.isoformat(), "--covers", "all", data_dir=tmp_path, check=True)
        last = _next_working_wednesday(today)
        added = cli("consent", "add", "8015550143", "--campaign", "ut-solar-predictive",
                    "--kind", "written", "--expires", last.isoformat(),
                    "--granted", "2026-01-01T00:00:00Z", data_dir=tmp_path)
        assert added.returncode == ALLOW, added.stderr
        evening = f"{last.isoformat()}T19:30:00-07:00"
        if _is_dst(last):
            evening = f"{last.isoformat()}T19:30:00-06:00"
        inside = cli("check", "8015550143", "--campaign", "ut-solar-predictive", "--at",
                     evening, "--json", data_dir=tmp_path)
        assert json.loads(inside.stdout)["verdict"] == "ALLOW", inside.stdout
        morning_after = (f"{(last + timedelta(days=1)).isoformat()}T10:00:00"
                         f"{'-06:00' if _is_dst(last) else '-07:00'}")
        after = cli("check", "8015550143", "--campaign", "ut-solar-predictive", "--at",
                    morning_after, "--json", data_dir=tmp_path)
        assert json.loads(after.stdout)["rule"] == "us-federal:64.1200(a)(2)", after.stdout


def _is_dst(day: date) -> bool:
    from zoneinfo import ZoneInfo
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("America/Denver"))
    return bool(moment.dst())


def _next_working_wednesday(today: date) -> date:
    """A Wednesday ahead with a Thursday after it that are both Utah working days."""
    from tests.test_calendar import CALENDAR
    day = today + timedelta(days=1)
    while True:
        if day.weekday() == 2 and not CALENDAR.holidays_on(day) and not CALENDAR.holidays_on(
                day + timedelta(days=1)):
            return day
        day += timedelta(days=1)
