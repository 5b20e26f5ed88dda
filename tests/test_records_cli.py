"""Record commands as a PBX admin runs them: add, revoke, show, and CSV import (all or nothing)."""

from __future__ import annotations

import io
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from callguard.errors import UsageError
from callguard.stores.record_csv import read_record_csv
from callguard.stores.writes import AddCompanyDnc, AddConsent
from tests.conftest import PARSER
from tests.test_cli import cli, weekday_at

SOLICITORS = frozenset({"beehive-solar", "granite-insurance"})
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def parse(text: str, kind: str, **kw):
    return read_record_csv(io.StringIO(text), kind, parser=PARSER, solicitors=SOLICITORS,
                           now=NOW, **kw)


class TestCsv:
    """Row-level errors with line numbers; nothing half-imported."""

    def test_every_bad_row_is_reported_with_its_line(self):
        text = ("number,solicitor,kind,granted_at,window,evidence\n"
                "801-555-0123,beehive-solar,written,2026-01-05T10:00:00-07:00,,f-1\n"
                "555,beehive-solar,written,2026-01-05T10:00:00-07:00,,f-2\n"
                "8015550124,acme,written,2026-01-05T10:00:00-07:00,,f-3\n"
                "8015550125,beehive-solar,oral,2026-01-05T10:00:00-07:00,,f-4\n"
                "8015550126,beehive-solar,written,2026-01-05,,f-5\n"
                "8015550127,beehive-solar,calling-hours,2026-01-05T10:00:00Z,,f-6\n"
                "8015550128,beehive-solar,written,2027-01-05T10:00:00Z,,f-7\n")
        result = parse(text, "consent")
        assert result.rows == 7
        assert [e.line for e in result.errors] == [3, 4, 5, 6, 7, 8]
        reasons = " | ".join(e.reason for e in result.errors)
        for fragment in ("number '555'", "solicitor 'acme'", "kind 'oral'", "no UTC offset",
                         "needs its window", "in the future"):
            assert fragment in reasons
        (good,) = result.writes
        assert isinstance(good, AddConsent)
        assert good.number == "+18015550123"
        assert good.evidence == "f-1"

    def test_an_instant_without_offset_is_refused_with_a_form_that_is_accepted(self):
        """A CRM export's expires_at "2027-01-31" was refused with "has no UTC offset" and
        no form to use; the example given is one the import takes."""
        text = ("number,solicitor,kind,granted_at,expires_at\n"
                "8015550123,beehive-solar,written,2026-01-05T10:00:00-07:00,2027-01-31\n")
        (error,) = parse(text, "consent").errors
        assert error.reason == "expires_at '2027-01-31' has no UTC offset; add one, e.g. " \
               "2027-01-31T00:00:00-07:00 (that time in Utah, America/Denver, on that date) " \
               "or 2027-01-31T00:00:00Z (the instant the consent ends, exclusive)"
        fixed = text.replace(",2027-01-31\n", ",2027-01-31T00:00:00-07:00\n")
        assert parse(fixed, "consent").errors == ()
        # in summer the example is Denver's summer offset (a fixed -07:00 was an hour off)
        summer = text.replace(",2027-01-31\n", ",2027-07-31\n")
        (error,) = parse(summer, "consent").errors
        assert "2027-07-31T00:00:00-06:00 (that time in Utah" in error.reason

    def test_a_do_not_call_request_dated_in_the_future_is_refused(self):
        """The policy honours a request from its instant on (a call before it is not bound):
        a future added_at would let calls through until then, so the row is refused."""
        text = ("number,solicitor,added_at\n"
                "8015550123,beehive-solar,2026-11-21T10:00:00Z\n"
                "8015550124,beehive-solar,2026-11-23T10:00:00Z\n")
        result = parse(text, "internal-dnc")
        assert [e.line for e in result.errors] == [3]
        assert "added_at 2026-11-23T10:00:00Z is in the future" in result.errors[0].reason

    def test_a_window_on_a_consent_that_has_none_is_refused(self):
        """A written consent with a window was stored: read later, it looks limited."""
        text = ("number,solicitor,kind,granted_at,window\n"
                "8015550123,beehive-solar,written,2026-01-05T10:00:00-07:00,09:00-17:00\n")
        (error,) = parse(text, "consent").errors
        assert "calling-hours consent only, not written" in error.reason

    @pytest.mark.parametrize("window", ["22:00+05:00-23:30", "22:00:30-23:30"])
    def test_a_window_with_an_offset_or_seconds_is_refused_on_import(self, window):
        """The CSV import took '22:00+05:00-23:30' as an aware time (every later check of
        the number for the seller a BLOCK callguard:internal-error) and kept seconds the
        record does not show; refused with its line, as `consent add --window` is."""
        text = ("number,solicitor,kind,granted_at,window\n"
                f"8015550123,beehive-solar,calling-hours,2026-01-05T10:00:00-07:00,{window}\n")
        (error,) = parse(text, "consent").errors
        assert "no seconds, no UTC offset" in error.reason

    def test_a_quote_never_closed_is_refused_not_read_into_one_value(self):
        """A stray quote in one row's source made every later row part of that value: the
        import said "2 row(s) imported" and the later do-not-call requests were lost."""
        text = ("number,solicitor,source\n"
                '8015550131,beehive-solar,"web form\n'
                "8015550132,beehive-solar,call\n"
                "8015550133,beehive-solar,call\n")
        with pytest.raises(UsageError, match=r"unexpected end of data.*nothing imported"):
            parse(text, "internal-dnc")

    def test_a_row_with_more_values_than_the_header_is_refused(self):
        """``8015550150,call,8015550151``: the extra number was dropped without a word."""
        text = ("number,solicitor\n8015550149,beehive-solar\n"
                "8015550150,beehive-solar,8015550151\n")
        result = parse(text, "internal-dnc")
        assert [e.line for e in result.errors] == [3]
        assert "3 values, the header names 2 columns" in result.errors[0].reason

    def test_a_column_named_twice_is_refused(self):
        """``number,number``: only the last value was read."""
        with pytest.raises(UsageError, match="names number more than once"):
            parse("number,solicitor,number\n8015550123,beehive-solar,8015550124\n",
                  "internal-dnc")

    def test_missing_columns_name_what_is_needed(self):
        with pytest.raises(UsageError, match="lacks kind, granted_at"):
            parse("number,solicitor\n8015550123,beehive-solar\n", "consent")
        with pytest.raises(UsageError, match="lacks solicitor"):
            parse("number\n8015550123\n", "internal-dnc")

    def test_solicitor_option_fills_rows(self):
        result = parse("number,source\n8015550123,web-form\n", "internal-dnc",
                       solicitor="beehive-solar")
        (write,) = result.writes
        assert isinstance(write, AddCompanyDnc)
        assert (write.solicitor, write.source, write.at) == ("beehive-solar", "web-form", NOW)


class TestCommands:
    """The real `callguard` process."""

    def test_import_rejects_a_file_with_a_bad_row_and_writes_nothing(self, tmp_path):
        csv = tmp_path / "dnc.csv"
        csv.write_text("number,solicitor\n8015550123,beehive-solar\nnot-a-number,beehive-solar\n")
        result = cli("internal-dnc", "import", str(csv), data_dir=tmp_path)
        assert result.returncode == 2
        assert "nothing imported" in result.stderr
        assert "not-a-number" in result.stderr
        shown = cli("internal-dnc", "show", "8015550123", "--solicitor", "beehive-solar",
                    "--json", data_dir=tmp_path)
        # nothing was written: not even the record store exists, and show says so
        assert shown.returncode == 2, shown.stdout + shown.stderr
        assert "no record store" in shown.stderr
        assert not (tmp_path / "records.sqlite3").exists()

    @pytest.mark.parametrize(("kind", "header"), [
        ("internal-dnc", "number,solicitor"), ("consent", "number,solicitor,kind,granted_at"),
        ("ebr", "number,solicitor,last_transaction")])
    def test_a_header_alone_is_refused_and_writes_nothing(self, tmp_path, kind, header):
        """An export cut after its header, or the wrong file, is not "0 rows imported"."""
        csv = tmp_path / "cut.csv"
        csv.write_text(header + "\n")
        result = cli(kind, "import", str(csv), data_dir=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no rows after the header" in result.stderr
        assert not (tmp_path / "records.sqlite3").exists()

    def test_revoking_a_consent_not_on_record_says_nothing_was_revoked(self, tmp_path):
        """A mistyped number or kind printed "revoked 0 …" as if done, while the consent
        stayed live: it says so (the request is journalled, as `ebr end` of none)."""
        assert cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual", "--kind",
                   "written", data_dir=tmp_path).returncode == 0
        wrong = cli("consent", "revoke", "8015550124", "--campaign", "ut-solar-manual",
                    "--kind", "written", data_dir=tmp_path)
        assert wrong.returncode == 0, wrong.stderr
        said = " ".join(wrong.stderr.split())
        assert "no live autodialer or written consent of …0124 to beehive-solar was on " \
               "record: nothing revoked" in said
        assert "revoked 0" not in said
        right = cli("consent", "revoke", "8015550123", "--campaign", "ut-solar-manual",
                    "--kind", "written", data_dir=tmp_path)
        assert "revoked 1 consent(s) of …0123 to beehive-solar (a revocation of written " \
               "consent ends: autodialer, written)" in " ".join(right.stderr.split())

    def test_stop_robocalling_me_recorded_as_autodialer_ends_the_written_consent(self,
                                                                                 tmp_path):
        """The harm: `consent revoke --kind autodialer` left the written consent live and
        `check` went on ALLOWing prerecorded calls. Real files: the record store, the
        compliance log, the lists; the BLOCK reason names the revocation."""
        listing = tmp_path / "list.txt"
        listing.write_text("8015550199\n")
        today = datetime.now(UTC).date().isoformat()
        for name in ("national", "ut-state"):
            cli("dnc", "import", str(listing), "--list", name, "--published", today,
                "--covers", "all", data_dir=tmp_path, check=True)
        granted = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
        assert cli("consent", "add", "8015550123", "--campaign", "ut-solar-predictive",
                   "--kind", "written", "--granted", granted.isoformat(),
                   data_dir=tmp_path).returncode == 0
        ask = ("check", "8015550123", "--campaign", "ut-solar-predictive", "--mode",
               "prerecorded", "--at", weekday_at(11).isoformat(), "--json")
        before = cli(*ask, data_dir=tmp_path)
        assert before.returncode == 0, before.stdout + before.stderr  # the control
        revoke = cli("consent", "revoke", "8015550123", "--campaign", "ut-solar-predictive",
                     "--kind", "autodialer", "--source", "call", data_dir=tmp_path)
        assert revoke.returncode == 0, revoke.stderr
        assert "revoked 1 consent(s) of …0123 to beehive-solar (a revocation of autodialer " \
               "consent ends: autodialer, written)" in " ".join(revoke.stderr.split())
        after = cli(*ask, data_dir=tmp_path)
        assert after.returncode == 1, after.stdout + after.stderr
        reason = json.loads(after.stdout)["reason"]
        assert f"written consent of {granted:%Y-%m-%d} revoked " in reason
        sheet = json.loads(cli("consent", "show", "8015550123", "--solicitor",
                               "beehive-solar", "--json", data_dir=tmp_path).stdout)
        (consent,) = sheet["consents"]
        assert (consent["kind"], consent["valid_now"], consent["revoked_source"]) == (
            "written", False, "call")
        logged = [json.loads(x) for x in (tmp_path / "compliance.jsonl").read_text()
                  .splitlines()]
        (revoked,) = [x for x in logged if x.get("action") == "consent-revoked"]
        assert (revoked["kind"], revoked["ends"], revoked["changed"]) == (
            "autodialer", ["autodialer", "written"], 1)
        tail = cli("tail", "--number", "8015550123", data_dir=tmp_path)
        assert "consent-revoked beehive-solar …0123 autodialer ends=autodialer,written " \
               "source=call" in " ".join(tail.stdout.split()), tail.stdout + tail.stderr

    def test_revoke_all_ends_every_kind(self, tmp_path):
        for kind, extra in (("written", ()), ("fax", ()),
                            ("calling-hours", ("--window", "21:00-22:00"))):
            assert cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual",
                       "--kind", kind, *extra, data_dir=tmp_path).returncode == 0
        done = cli("consent", "revoke", "8015550123", "--campaign", "ut-solar-manual",
                   "--kind", "all", data_dir=tmp_path)
        assert "revoked 3 consent(s)" in done.stderr, done.stderr
        sheet = json.loads(cli("consent", "show", "8015550123", "--solicitor",
                               "beehive-solar", "--json", data_dir=tmp_path).stdout)
        assert not any(c["valid_now"] for c in sheet["consents"])
        helped = " ".join(cli("consent", "revoke", "--help", data_dir=tmp_path).stdout.split())
        assert "autodialer or written: ends BOTH" in helped
        assert "all: ends every consent to the seller" in helped

    def test_show_agrees_with_the_gate_on_a_revocation_of_the_other_kind(self, tmp_path):
        """A revocation written before it reached every kind it ends (an autodialer consent
        revoked alone, written consent left standing) ends the written consent at the gate
        (64.1200(a)(10)); `show` said `valid_now: yes` for it. The old row is made here by
        revoking the autodialer row alone in the store's own file."""
        import sqlite3

        for kind in ("written", "autodialer"):
            assert cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual",
                       "--kind", kind, data_dir=tmp_path).returncode == 0
        db = sqlite3.connect(tmp_path / "records.sqlite3")
        with db:
            changed = db.execute("UPDATE consent SET revoked_at = ?, revoked_source = 'old' "
                                 "WHERE kind = 'autodialer'",
                                 (datetime.now(UTC).isoformat(),))  # after both grants
        db.close()
        assert changed.rowcount == 1
        show = cli("consent", "show", "8015550123", "--solicitor", "beehive-solar", "--json",
                   data_dir=tmp_path)
        assert show.returncode == 0, show.stderr
        by_kind = {c["kind"]: c for c in json.loads(show.stdout)["consents"]}
        assert by_kind["autodialer"]["valid_now"] is False
        written = by_kind["written"]
        assert written["valid_now"] is False
        assert written["ended_by_revocation_of"] == "autodialer"
        text = " ".join(cli("consent", "show", "8015550123", "--solicitor", "beehive-solar",
                            data_dir=tmp_path).stdout.split())
        assert "ended by the autodialer revocation" in text

    def test_show_says_a_consent_is_void_under_a_packs_revoke_all_date(self, tmp_path):
        """A calling-hours revocation made on or after us-federal's revoke-all date ends the
        written consent at the gate for (a)(2)/(a)(3); `show` said `valid_now: yes`. Under
        `us-federal:revoke-all = "every-revocation"` (the date 2021-11-01) it is void now;
        under the default date (2027-01-31, not reached) it is not (the control)."""
        from tests.conftest import ROOT

        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
        text = text.replace('packs_dir = "jurisdictions"',
                            f'packs_dir = "{ROOT / "callguard" / "data" / "jurisdictions"}"')
        site = tmp_path / "site.toml"
        site.write_text(text.replace("# [interpretations]\n", "[interpretations]\n"
                                     '"us-federal:revoke-all" = "every-revocation"\n', 1))
        for kind, extra in (("written", ()), ("calling-hours", ("--window", "21:00-22:00"))):
            assert cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual",
                       "--kind", kind, *extra, data_dir=tmp_path).returncode == 0
        assert cli("consent", "revoke", "8015550123", "--campaign", "ut-solar-manual",
                   "--kind", "calling-hours", data_dir=tmp_path).returncode == 0
        show = ("consent", "show", "8015550123", "--solicitor", "beehive-solar")
        default = json.loads(cli(*show, "--json", data_dir=tmp_path).stdout)
        written = next(c for c in default["consents"] if c["kind"] == "written")
        assert written["valid_now"] is True  # a revocation before 2027-01-31
        assert written["void_under"] == []
        strict = cli("--config", str(site), *show, "--json", data_dir=tmp_path)
        assert strict.returncode == 0, strict.stderr
        written = next(c for c in json.loads(strict.stdout)["consents"]
                       if c["kind"] == "written")
        assert written["valid_now"] is False
        assert written["ended_by_revocation_of"] is None  # not by (a)(10) in force alone
        (void,) = written["void_under"]
        assert (void["pack"], void["revoke_all_from"], void["ended_by_revocation_of"]) == (
            "us-federal", "2021-11-01", "calling-hours")
        assert set(void["rules"]) == {"us-federal:64.1200(a)(2)", "us-federal:64.1200(a)(3)"}
        assert "47 CFR 64.1200(a)(10) revoke-all, from 2021-11-01" in void["reason"]
        text = " ".join(cli("--config", str(site), *show, data_dir=tmp_path).stdout.split())
        assert "void under us-federal: ended by the calling-hours revocation" in text

    def test_import_takes_the_seller_by_campaign_like_every_record_command(self, tmp_path):
        """`consent add --campaign C` works, `consent import F --campaign C` was "No such
        option": the seller of a file without a solicitor column is named either way."""
        ebr = tmp_path / "ebr.csv"
        ebr.write_text("number,last_transaction\n8015550123,2026-10-01\n")
        done = cli("ebr", "import", str(ebr), "--campaign", "ut-solar-predictive",
                   data_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        sheet = json.loads(cli("ebr", "show", "8015550123", "--solicitor", "beehive-solar",
                               "--json", data_dir=tmp_path).stdout)
        assert sheet["ebr"]["last_transaction"] == "2026-10-01"
        unknown = cli("ebr", "import", str(ebr), "--campaign", "nope", data_dir=tmp_path)
        assert unknown.returncode == 2
        assert "unknown campaign 'nope'" in unknown.stderr
        both = cli("ebr", "import", str(ebr), "--campaign", "ut-solar-predictive",
                   "--solicitor", "beehive-solar", data_dir=tmp_path)
        assert both.returncode == 2
        assert "give --campaign or --solicitor" in both.stderr

    def test_dates_of_what_happened_cannot_be_in_the_future(self, tmp_path):
        """`ebr add --last-transaction 2062-10-01` (for 2026) was recorded, replacing the
        real date with one that lifts no rule for 36 years, and `consent add --granted` in
        the future was taken; a CSV's granted_at and added_at were already refused, its
        last_transaction was not. Each is a usage error now, and nothing is written."""
        for args in (["ebr", "add", "8015550123", "--last-transaction", "2062-10-01"],
                     ["ebr", "add", "8015550123", "--last-inquiry", "2062-10-01"],
                     ["consent", "add", "8015550123", "--kind", "written", "--granted",
                      "2062-10-01T10:00:00Z"]):
            refused = cli(*args, "--campaign", "ut-solar-manual", data_dir=tmp_path)
            assert refused.returncode == 2, (args, refused.stderr)
            assert "is in the future" in refused.stderr, refused.stderr
        ebr = tmp_path / "ebr.csv"
        ebr.write_text("number,last_transaction\n8015550123,2062-10-01\n")
        imported = cli("ebr", "import", str(ebr), "--solicitor", "beehive-solar",
                       data_dir=tmp_path)
        assert imported.returncode == 2
        assert "last_transaction 2062-10-01 is in the future" in imported.stderr
        assert not (tmp_path / "records.sqlite3").exists()
        today = datetime.now(UTC).date().isoformat()  # today is not the future
        assert cli("ebr", "add", "8015550123", "--last-transaction", today, "--campaign",
                   "ut-solar-manual", data_dir=tmp_path).returncode == 0

    def test_a_mistyped_number_is_not_echoed_in_clear(self, tmp_path):
        """stderr goes to cron mail and journals: the usage error names the number by its
        last four digits, as the CSV import's row errors do."""
        refused = cli("consent", "add", "80155501239", "--campaign", "ut-solar-manual",
                      "--kind", "written", data_dir=tmp_path)
        assert refused.returncode == 2
        assert "[number …1239]" in refused.stderr
        assert "8015550123" not in refused.stderr
        assert cli("internal-dnc", "add", "8015550124", "--campaign", "ut-solar-manual",
                   data_dir=tmp_path).returncode == 0  # a log and its key to read
        for command in ("tail", "evidence"):  # --number / NUMBER of the log readers
            args = ["--number", "80155501239"] if command == "tail" else ["80155501239"]
            read = cli(command, *args, data_dir=tmp_path)
            assert read.returncode == 2, read.stderr
            assert "[number …1239]" in read.stderr
            assert "8015550123" not in read.stderr

    def test_a_window_on_a_written_consent_is_refused(self, tmp_path):
        """`consent add --kind written --window 09:00-17:00` was stored as given."""
        added = cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual", "--kind",
                    "written", "--window", "09:00-17:00", data_dir=tmp_path)
        assert added.returncode == 2, added.stdout + added.stderr
        assert "--window is for calling-hours consent only" in added.stderr
        assert not (tmp_path / "records.sqlite3").exists()

    def test_consent_times_are_said_in_their_zone(self, tmp_path):
        """`consent add --expires 2027-01-31` answered "recorded until 2027-02-01T07:00Z"
        (a day later than the date typed, in UTC unsaid as such); `consent show` headed its
        columns "granted"/"expires"/"window" with microsecond +00:00 instants beside a
        window in the called party's clock."""
        added = cli("consent", "add", "8015550123", "--campaign", "ut-solar-manual", "--kind",
                    "calling-hours", "--window", "07:00-22:00", "--expires", "2027-01-31",
                    "--granted", "2026-11-02T17:00:00.123456Z", data_dir=tmp_path)
        assert added.returncode == 0, added.stderr
        assert "it holds through 2027-01-31, the called party's date (it ends " \
               "2027-02-01T07:00Z)" in " ".join(added.stderr.split())
        shown = cli("consent", "show", "8015550123", "--campaign", "ut-solar-manual",
                    data_dir=tmp_path)
        assert shown.returncode == 0, shown.stderr
        for words in ("granted (UTC)", "expires (UTC, exclusive)",
                      "window (called party's time)", "revoked (UTC)",
                      "2026-11-02 17:00:00Z", "2027-02-01 07:00:00Z", "07:00-22:00"):
            assert words in shown.stdout, (words, shown.stdout)
        assert ".123456" not in shown.stdout

    def test_tail_shows_a_record_change_by_the_fields_it_has(self, tmp_path):
        """`tail` printed "ebr-recorded beehive-solar …0123  source=" (a blank source the
        record never had) and no word when a revocation changed nothing."""
        for args in (["ebr", "add", "8015550123", "--last-transaction", "2026-10-01"],
                     ["consent", "add", "8015550123", "--kind", "written", "--source", "web",
                      "--expires", "2030-01-31"],
                     ["consent", "revoke", "8015550124", "--kind", "written"]):
            assert cli(*args, "--campaign", "ut-solar-manual",
                       data_dir=tmp_path).returncode == 0
        lines = [line.split("REC", 1)[1].strip() for line in
                 cli("tail", data_dir=tmp_path).stdout.splitlines()]
        assert lines[0] == "ebr-recorded beehive-solar …0123 last_transaction=2026-10-01"
        assert lines[1].startswith("consent-added beehive-solar …0123 written source=web "
                                   "granted_at=")
        assert "expires_at=2030-02-01T07:00:00.000Z" in lines[1]
        assert lines[2].startswith("consent-revoked beehive-solar …0124 written "
                                   "ends=autodialer,written source=cli revoked_at=")
        assert lines[2].endswith("Z (changed nothing)")
        none = cli("tail", "--number", "8015550125", data_dir=tmp_path)
        assert (none.returncode, none.stdout) == (0, "")
        assert "no record matched in the log and its closed segments" in none.stderr

    def test_a_record_change_carries_the_facts_written_and_the_evidence_reference(
            self, tmp_path):
        """An officer traces a consent to its proof and reads when it was given from the
        log: the consent-added record named neither the evidence reference nor `--granted`
        (only logged_at, days later), an ebr-recorded record no date, a do-not-call request
        or a revocation not the instant it was made."""
        from jsonschema import Draft202012Validator

        from tests.test_compliance_log import _schemas
        for args in (["consent", "add", "8015550123", "--kind", "calling-hours",
                      "--window", "22:00-02:00", "--granted", "2026-11-01T12:00:00Z",
                      "--source", "web", "--evidence", "s3://proof/form-8015550123-a.pdf"],
                     ["consent", "add", "8015550123", "--kind", "written",
                      "--granted", "2026-11-02T12:00:00Z", "--evidence", "ticket-77"],
                     ["consent", "revoke", "8015550123", "--kind", "written"],
                     ["ebr", "add", "8015550123", "--last-transaction", "2026-10-01"],
                     ["ebr", "add", "8015550123", "--last-inquiry", "2026-10-05"],
                     ["ebr", "end", "8015550123"],
                     ["internal-dnc", "add", "8015550123"]):
            assert cli(*args, "--campaign", "ut-solar-manual",
                       data_dir=tmp_path).returncode == 0, args
        records = [json.loads(line) for line in
                   (tmp_path / "compliance.jsonl").read_text().splitlines()]
        changes = [r for r in records if r["event"] == "record"]
        schema = Draft202012Validator(_schemas()["record"])
        for record in changes:
            assert not list(schema.iter_errors(record)), record
        hours, written, revoked, transaction, inquiry, ended, dnc = changes
        assert hours["granted_at"] == "2026-11-01T12:00:00.000Z"
        assert hours["window"] == "22:00-02:00"
        assert hours["evidence_ref"] == "s3://proof/form-[number …0123]-a.pdf"
        assert "8015550123" not in json.dumps(hours)
        assert (written["granted_at"], written["evidence_ref"]) == (
            "2026-11-02T12:00:00.000Z", "ticket-77")
        for record, key in ((revoked, "revoked_at"), (ended, "ended_at"),
                            (dnc, "requested_at")):
            assert record[key].endswith("Z"), record
            assert record[key].startswith("2026-"), record
        assert transaction["last_transaction"] == "2026-10-01"
        assert inquiry["last_inquiry"] == "2026-10-05"
        tail = cli("tail", data_dir=tmp_path).stdout
        assert "evidence_ref=ticket-77" in tail
        assert "granted_at=2026-11-01T12:00:00.000Z" in tail

    def test_a_number_written_across_a_comma_or_a_line_break_is_redacted_in_the_record(
            self, tmp_path):
        """``redact_digits`` ends a run at a line break, a comma, a colon or full-width
        punctuation, so "801555,0123" or a CSV cell's "801555<newline>0123" given as the
        evidence reference or the source reached the record (and the archive, the stream,
        `evidence`) with the whole number in it."""
        spellings = ["801555\n0123", "801555,0123", "801 555, 0123", "801555:0123",
                     "801555\uff0e0123", "ref 801555\u20280123"]
        for spelling in spellings:
            assert cli("consent", "add", "8015550123", "--kind", "written",
                       "--granted", "2026-11-02T12:00:00Z", "--evidence", spelling,
                       "--source", spelling, "--campaign", "ut-solar-manual",
                       data_dir=tmp_path).returncode == 0, spelling
        sheet = tmp_path / "consent.csv"
        sheet.write_text('number,solicitor,kind,granted_at,source,evidence\n'
                         '8015550124,beehive-solar,written,2026-11-01T10:00:00Z,'
                         '"web\n801555\n0124","form\n801-555\n0124.pdf"\n')
        assert cli("consent", "import", str(sheet), data_dir=tmp_path).returncode == 0
        changes = [json.loads(line) for line in  # not splitlines: U+2028 is no line's end
                   (tmp_path / "compliance.jsonl").read_text().split("\n")
                   if '"event":"record"' in line]
        assert len(changes) == len(spellings) + 1
        for record in changes:
            for key in ("evidence_ref", "source"):
                digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", record[key]))
                assert "801555012" not in digits, (key, record[key])
        assert changes[0]["evidence_ref"] == "[number …0123]"
        shown = cli("evidence", "8015550123", "--json", data_dir=tmp_path)
        stored = json.loads(shown.stdout)["stored_now"]["sellers"]["beehive-solar"]
        for consent in stored["consents"]:
            for key in ("evidence", "source"):
                digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", consent[key]))
                assert "801555012" not in digits, (key, consent[key])

    def test_a_window_with_an_offset_or_seconds_is_refused(self, tmp_path):
        """'22:00+05:00-23:30' was stored as an aware time: every later check of the number
        for the seller BLOCKed callguard:internal-error (TypeError); '22:00:30-23:30' was
        stored with its seconds while the record said 22:00-23:30."""
        for window in ("22:00+05:00-23:30", "22:00:30-23:30"):
            added = cli("consent", "add", "8015550123", "--kind", "calling-hours",
                        "--window", window, "--campaign", "ut-solar-manual",
                        data_dir=tmp_path)
            assert added.returncode == 2, (window, added.stderr)
            assert "no seconds, no UTC offset" in added.stderr
        assert cli("check", "8015550123", "--campaign", "ut-solar-manual", "--at",
                   "2026-12-08T11:00:00-07:00", "--json",
                   data_dir=tmp_path).stdout.count("internal-error") == 0

    def test_import_then_show_revoke_end(self, tmp_path):
        consents = tmp_path / "consent.csv"
        consents.write_text(
            "\ufeffnumber,solicitor,kind,granted_at,expires_at,source,evidence\n"
            "8015550123,beehive-solar,written,2026-01-05T10:00:00-07:00,,web,form-1\n"
            "8015550123,beehive-solar,autodialer,2026-01-05T10:00:00-07:00,"
            "2030-01-01T00:00:00Z,web,form-2\n")
        imported = cli("consent", "import", str(consents), data_dir=tmp_path)
        assert imported.returncode == 0, imported.stderr
        assert "2 row(s) imported" in imported.stderr
        revoke = cli("consent", "revoke", "801 555 0123", "--campaign", "ut-solar-manual",
                     "--kind", "written", "--source", "phone", data_dir=tmp_path)
        # 64.1200(a)(10): revoking the written consent ends the autodialer one too.
        assert "revoked 2 consent(s)" in revoke.stderr
        ebr = tmp_path / "ebr.csv"
        ebr.write_text("number,last_transaction\n8015550123,2026-10-01\n")
        assert cli("ebr", "import", str(ebr), "--solicitor", "beehive-solar",
                   data_dir=tmp_path).returncode == 0
        assert "ended" in cli("ebr", "end", "8015550123", "--solicitor", "beehive-solar",
                              data_dir=tmp_path).stderr
        sheet = json.loads(cli("consent", "show", "8015550123", "--solicitor", "beehive-solar",
                               "--json", data_dir=tmp_path).stdout)
        kinds = {c["kind"]: c for c in sheet["consents"]}
        assert kinds["written"]["revoked_source"] == "phone"
        assert not kinds["written"]["valid_now"]
        assert not kinds["autodialer"]["valid_now"]
        assert kinds["autodialer"]["revoked_source"] == "phone"
        assert kinds["autodialer"]["evidence"] == "form-2"
        assert sheet["ebr"]["last_transaction"] == "2026-10-01"
        assert sheet["ebr"]["ended_at"]
        # Every change is journalled, number hashed; the evidence's reference named (an
        # officer traces the consent to its proof from the log), never the evidence.
        log = (tmp_path / "compliance.jsonl").read_text()
        actions = [json.loads(x)["action"] for x in log.splitlines()]
        assert actions == ["consent-added", "consent-added", "consent-revoked",
                           "ebr-recorded", "ebr-ended"]
        assert "8015550123" not in log
        added = [json.loads(x) for x in log.splitlines()][:2]
        assert sorted(r["evidence_ref"] for r in added) == ["form-1", "form-2"]

    def test_records_need_a_known_solicitor(self, tmp_path):
        result = cli("internal-dnc", "add", "8015550123", "--solicitor", "acme",
                     data_dir=tmp_path)
        assert result.returncode == 2
        assert "unknown solicitor 'acme'" in result.stderr
        both = cli("internal-dnc", "add", "8015550123", data_dir=tmp_path)
        assert both.returncode == 2
        assert "--campaign or --solicitor" in both.stderr

    @pytest.mark.parametrize("group", ["consent", "ebr", "internal-dnc"])
    def test_show_in_a_data_dir_with_no_records_is_a_usage_error(self, tmp_path, group):
        """A wrong --data-dir answered "company do-not-call: none" (exit 0) — the wrong
        answer to "did this number opt out?" — and made a log key, a log and record
        stores there. Reading creates nothing; the error names the store and the fix."""
        result = cli(group, "show", "8015550123", "--campaign", "ut-solar-manual",
                     data_dir=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "no record store" in result.stderr
        assert "--data-dir" in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_show_reads_without_writing(self, tmp_path):
        """Show on a node's data dir opens the record store alone: no log line, and no
        log key made where the nodes use CALLGUARD_LOG_KEY."""
        added = cli("internal-dnc", "add", "8015550123", "--campaign", "ut-solar-manual",
                    data_dir=tmp_path)
        assert added.returncode == 0, added.stderr
        (tmp_path / "log.key").unlink()
        log = (tmp_path / "compliance.jsonl").read_bytes()
        shown = cli("internal-dnc", "show", "8015550123", "--campaign", "ut-solar-manual",
                    "--json", data_dir=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["company_dnc"] is not None
        assert (tmp_path / "compliance.jsonl").read_bytes() == log
        assert not (tmp_path / "log.key").exists()


class TestRedisRecordStore:
    """`show` with `[records] backend = "redis"`, against a real redis-server."""

    @pytest.fixture
    def redis_records(self, tmp_path, redis_server):
        from tests.conftest import ROOT

        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
        text = text.replace('packs_dir = "jurisdictions"', 'packs_dir = ""')
        marker = '[records]\n# Consent'
        assert marker in text
        head, tail = text.split(marker, 1)
        tail = tail.replace('backend = "embedded"', 'backend = "redis"', 1)
        text = head + marker + tail
        text = text.replace('url = "redis://127.0.0.1:6379/0"', f'url = "{redis_server.url}"')
        assert redis_server.url in text
        path = tmp_path / "redis-records.toml"
        path.write_text(text)
        return path

    def test_show_reads_redis_alone_and_an_empty_redis_is_an_error(self, tmp_path,
                                                                  redis_records):
        conf = ("--config", str(redis_records))
        reader = tmp_path / "reader"
        reader.mkdir()  # a missing data dir is refused (test_cli_ux.TestMissingDataDir)
        (tmp_path / "writer").mkdir()
        empty = cli(*conf, "internal-dnc", "show", "8015550123", "--solicitor",
                    "beehive-solar", data_dir=reader)
        assert empty.returncode == 2, empty.stdout + empty.stderr
        assert "holds no callguard records" in empty.stderr
        writer = tmp_path / "writer"
        added = cli(*conf, "internal-dnc", "add", "8015550123", "--solicitor",
                    "beehive-solar", data_dir=writer)
        assert added.returncode == 0, added.stderr
        shown = cli(*conf, "internal-dnc", "show", "8015550123", "--solicitor",
                    "beehive-solar", "--json", data_dir=reader)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["company_dnc"] is not None
        # reading made nothing in its data dir: no log key, no log, no local store
        assert sorted(p.name for p in reader.iterdir()) == []
