"""Configuration and pack validation: errors an admin can act on."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from callguard.config import load_settings
from callguard.errors import ConfigError
from callguard.policy import pack_from_mapping
from tests.conftest import PACKS_DIR


def write(tmp_path, body):
    path = tmp_path / "c.toml"
    path.write_text(f"[callguard]\npacks_dir = '{PACKS_DIR}'\n{body}")
    return path


CAMPAIGN = """
[[campaigns]]
id = "c1"
solicitor = "s"
caller_id = "+18015550100"
"""


class TestSettings:
    """Each mistake names the key and the fix."""

    def test_shipped_demo_config_loads(self):
        """The bundled configuration is valid."""
        settings = load_settings()
        assert set(settings.campaigns) == {"ut-solar-manual", "ut-solar-predictive",
                                           "insurance-reminders"}

    @pytest.mark.parametrize(("body", "message"), [
        ("colour = 'red'\n", "unknown key(s) colour"),
        ("unknown_local_time = 'guess'\n", "use block or every-zone"),
        ("dial_prefixes = ['nine']\n", "digit strings"),
        (CAMPAIGN.replace('+18015550100', '555'), "not a number callguard can present"),
        (CAMPAIGN.replace('solicitor = "s"', ''), "solicitor (the seller"),
        (CAMPAIGN + "default_mode = 'robot'\n", "use one of manual, predictive, prerecorded, fax"),
        (CAMPAIGN + "origin_state = 'Utah'\n", "state or territory code like \"UT\""),
        (CAMPAIGN + "packs = ['us-federal']\n", "'packs' is not read: statute packs"),
        (CAMPAIGN + "house_policies = ['us-mars']\n", "house policy 'us-mars' is not enabled"),
        (CAMPAIGN + "house_policies = ['us-ut']\n", "us-ut is a statute"),
        (CAMPAIGN + "exemption = { citation = '13-26a-104(1)(zz)', reason = 'x' }\n",
         "is not a paragraph an enabled pack lists"),
        (CAMPAIGN + "registration = { number = 'x', expires = 2027-01-01, state = 'UT' }\n",
         "unknown key(s) state"),
        ("enabled_packs = ['us-federal', 'us-ut-hb45-2000']\n",
         "leaves out the statute pack(s) us-fl, us-md, us-ok, us-ut"),
        ("expiry_warning_days = 0\n", "expiry_warning_days must be from 1"),
        ("[interpretations]\n'us-ut:between-hours' = 'sometimes'\n",
         "us-ut:between-hours = 'sometimes': options are ends-forbidden, ends-callable"),
        ("[interpretations]\n'us-ut:between-hour' = 'ends-callable'\n",
         "[interpretations]: unknown us-ut:between-hour"),
        ("[[proclaimed_days]]\ncalendar = 'us-ut:legal-holidays'\ndate = 2026-11-27\n"
         "name = 'x'\n", "needs calendar"),
        ("[[proclaimed_days]]\ncalendar = 'us-ut:holidays'\ndate = 2026-11-27\n"
         "name = 'x'\ncitation = 'y'\n", "unknown calendar us-ut:holidays"),
        ("[[proclaimed_days]]\ncalendar = 'us-ut:legal-holidays'\ndate = 2027-09-04\n"
         "name = 'x'\ncitation = 'y'\nmoves = 'no'\n", "moves must be true"),
        (CAMPAIGN + "registration = { number = 'x', expires = '2027-01-01' }\n",
         "a TOML date, unquoted"),
        (CAMPAIGN + CAMPAIGN, "defined twice"),
        # an id the dialplan cannot pass as one AGI argument, or that reads as another
        (CAMPAIGN.replace('"c1"', '"c 1"'), "id 'c 1' holds a space, a comma or an invisible"),
        (CAMPAIGN.replace('"c1"', '"c,1"'), "id 'c,1' holds a space, a comma"),
        (CAMPAIGN.replace('"c1"', '"c\u00a01"'), "use letters, digits, '-', '_' or '.'"),
        # said in words (it read "must be a int"); true is not a number of days
        ("[fastagi]\nport = 'x'\n", "[fastagi]: port must be an integer, got 'x'"),
        ("expiry_warning_days = true\n", "expiry_warning_days must be an integer, got true"),
        ("dial_prefixes = '9'\n", "dial_prefixes must be a list, got '9'"),
        (CAMPAIGN + "dialer_is_atds = 'no'\n", "dialer_is_atds must be true or false"),
        (CAMPAIGN + "default_mode = 3\n", "default_mode must be a string, got 3"),
    ])
    def test_errors(self, tmp_path, body, message):
        """The message says what to change."""
        with pytest.raises(ConfigError, match=None) as caught:
            load_settings(write(tmp_path, body))
        assert message in str(caught.value)

    def test_campaign_cannot_leave_a_statute_out(self, tmp_path):
        """A campaign names only house policies; every statute still applies to it."""
        settings = load_settings(write(tmp_path, CAMPAIGN))
        campaign = settings.campaigns["c1"]
        assert campaign.packs == ()
        from datetime import datetime

        from callguard.numbers import NumberParser
        from callguard.policy import CallAttempt, DialingMode
        attempt = CallAttempt(NumberParser().parse("8015550123"), campaign, DialingMode.MANUAL,
                              datetime.fromisoformat("2026-07-26T11:00:00-06:00"))
        plan = settings.policy().plan(attempt)
        applied = {p.pack_id for p in plan.packs if p.applies}
        assert applied == {"us-federal", "us-ut"}  # Sunday in Utah: us-ut judges it

    def test_interpretations_and_proclaimed_days_reach_the_packs(self, tmp_path):
        """A chosen reading and a proclaimed day change the loaded packs."""
        body = ("[interpretations]\n'us-ut:between-hours' = 'ends-callable'\n"
                "[[proclaimed_days]]\ncalendar = 'us-ut:legal-holidays'\ndate = 2026-11-27\n"
                "name = 'Day of thanksgiving'\ncitation = 'Governor (example)'\n")
        settings = load_settings(write(tmp_path, body))
        pack = settings.packs["us-ut"]
        (reading,) = [i for i in pack.interpretations if i.id == "us-ut:between-hours"]
        assert reading.chosen == "ends-callable"
        assert not reading.is_default
        hours = next(r for r in pack.rules if r.rule_id == "us-ut:13-25a-103(3):hours")
        assert hours.version == "2025-01-01; us-ut:between-hours=ends-callable"
        from datetime import date
        holidays = pack.calendars["us-ut:legal-holidays"].holidays_on(date(2026, 11, 27))
        assert holidays is not None
        assert [h.name for h in holidays] == ["Day of thanksgiving"]

    def test_a_declared_saturday_stays_on_the_saturday(self, tmp_path):
        """moves = false: a holiday declared in addition to 63G-1-301(1) is the day itself
        ((2)(a)-(b) move only a (1)(a) day); by default a proclaimed Saturday moves to Friday."""
        from datetime import date
        saturday, friday = date(2027, 9, 4), date(2027, 9, 3)
        for moves, holiday, workday in (("false", saturday, friday), ("true", friday, saturday)):
            body = ("[[proclaimed_days]]\ncalendar = 'us-ut:legal-holidays'\n"
                    f"date = {saturday.isoformat()}\nname = 'Declared'\n"
                    f"citation = 'Governor (example)'\nmoves = {moves}\n")
            calendar = load_settings(write(tmp_path, body)).packs["us-ut"].calendars[
                "us-ut:legal-holidays"]
            assert [h.name for h in calendar.holidays_on(holiday) or ()] == ["Declared"]
            assert not calendar.holidays_on(workday)

    def test_statute_cases_beside_the_packs_are_not_packs(self, tmp_path):
        """*.tests.toml files in packs_dir are skipped by the loader."""
        settings = load_settings(write(tmp_path, ""))
        assert set(settings.packs) == {"house-litigators", "us-federal", "us-fl", "us-md",
                                       "us-ok", "us-ut",
                                       "us-ut-hb45-2000"}

    def test_missing_file(self, tmp_path):
        """A missing file is named."""
        with pytest.raises(ConfigError, match="not found: check --config") as caught:
            load_settings(tmp_path / "nope.toml")
        assert "callguard init DIR" in str(caught.value)  # and how to make one


class TestPacks:
    """Pack files are validated rule by rule."""

    def base(self):
        return tomllib.loads((PACKS_DIR / "us-federal.toml").read_text())

    def test_rule_without_citation_is_refused(self):
        """Every rule carries its citation."""
        doc = self.base()
        del doc["rules"][0]["citation"]
        with pytest.raises(ConfigError, match="missing required key 'citation'"):
            pack_from_mapping(doc)

    def test_rule_without_source_is_refused(self):
        """Every parameter has its source."""
        doc = self.base()
        del doc["rules"][0]["source"]
        with pytest.raises(ConfigError, match="'source'"):
            pack_from_mapping(doc)

    def test_unknown_kind(self):
        """Kinds are listed in the message."""
        doc = self.base()
        doc["rules"][0]["kind"] = "vibes"
        with pytest.raises(ConfigError,
                           match="unknown kind 'vibes'; known: call-frequency, caller-id"):
            pack_from_mapping(doc)

    def test_rule_id_must_carry_pack_prefix(self):
        """Rule ids say which pack decided."""
        doc = self.base()
        doc["rules"][0]["id"] = "federal:64.1200(c)(1)"
        with pytest.raises(ConfigError, match="must start with 'us-federal:'"):
            pack_from_mapping(doc)

    def test_inverted_hours(self):
        """earliest after latest is caught."""
        doc = self.base()
        doc["rules"][0]["earliest"] = "22:00"
        with pytest.raises(ConfigError, match="earliest must be before latest"):
            pack_from_mapping(doc)

    def test_effective_range(self):
        """A pack outside its dates does not apply (and says why)."""
        from datetime import date
        pack = pack_from_mapping(self.base())
        assert pack.in_effect(date(2026, 1, 1))
        assert not pack.in_effect(date(2021, 10, 31))


class TestRedisUrl:
    """Issue 15.7: the Redis password only from CALLGUARD_REDIS_PASSWORD, never echoed."""

    @pytest.mark.parametrize("url", [
        "redis://127.0.0.1:6379/0?password=s3cret-pw",
        "redis://127.0.0.1:6379/0?db=0&password=s3cret-pw",
        "rediss://redis.internal/0?Password=s3cret-pw",
        "redis://:s3cret-pw@127.0.0.1:6379/0",
    ])
    @pytest.mark.parametrize("where", ["toml", "env"])
    def test_password_in_the_url_is_refused(self, tmp_path, monkeypatch, url, where):
        """In the query string as in the user part, from the file or the environment; the
        message does not repeat the password."""
        body = ""
        if where == "toml":
            body = f"[redis]\nurl = '{url}'\n"
        else:
            monkeypatch.setenv("CALLGUARD_REDIS_URL", url)
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, body))
        assert "CALLGUARD_REDIS_PASSWORD" in str(caught.value)
        assert "s3cret-pw" not in str(caught.value)

    def test_non_redis_scheme_error_hides_the_password(self, tmp_path, monkeypatch):
        """On main the message printed the URL, password included."""
        monkeypatch.setenv("CALLGUARD_REDIS_URL", "http://admin:s3cret-pw@redis.internal/0")
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, ""))
        assert "redis://HOST:PORT/DB" in str(caught.value)
        assert "s3cret-pw" not in str(caught.value)

    def test_options_that_would_override_callguards_own_are_refused(self, tmp_path):
        """redis-py lets URL options override the client's (timeouts on the call path)."""
        with pytest.raises(ConfigError, match="socket_timeout"):
            load_settings(write(tmp_path, "[redis]\nurl = 'redis://h:6379/0?socket_timeout=600'\n"))

    def test_database_and_tls_options_are_fine(self, tmp_path):
        """db and the ssl_* options stay usable."""
        url = "rediss://redis.internal:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem"
        assert load_settings(write(tmp_path, f"[redis]\nurl = '{url}'\n")).redis_url == url


def _cut_before_last_table(text: str) -> str:
    """The pack cut at a line boundary before its last top-level table: still valid TOML."""
    lines = text.splitlines(keepends=True)
    tables = [i for i, line in enumerate(lines) if line.startswith("[[obligations]]")]
    assert tables, "us-ut has [[obligations]]"
    return "".join(lines[:tables[0]])


class TestCopiesOfShippedPacks:
    """A packs_dir copy of a shipped pack must carry the shipped rules of its version: a
    record names a pack by id and version, and ``explain`` renders the shipped text."""

    def _copy(self, tmp_path: Path) -> Path:
        import shutil

        from callguard.config import pack_files
        from callguard.resources import packs_dir

        packs = tmp_path / "packs"
        packs.mkdir()
        for path in pack_files(packs_dir()):
            shutil.copy(path, packs / path.name)
        return packs

    def test_an_exact_copy_loads(self, tmp_path: Path) -> None:
        from callguard.config import _load_packs

        packs = _load_packs(self._copy(tmp_path), {}, ())
        assert "us-ut" in packs

    def test_an_edit_under_the_shipped_version_is_refused(self, tmp_path: Path) -> None:
        from callguard.config import _load_packs

        packs = self._copy(tmp_path)
        text = (packs / "us-ut.toml").read_text()
        edited = text.replace("[[rules]]", "[[rules]]\n# edited", 1)
        assert edited != text
        # a comment changes nothing a verdict reads: still the shipped rule table
        (packs / "us-ut.toml").write_text(edited)
        _load_packs(packs, {}, ())
        (packs / "us-ut.toml").write_text(_cut_before_last_table(text))
        with pytest.raises(ConfigError, match=r"us-ut .* differs from the shipped us-ut"):
            _load_packs(packs, {}, ())

    def test_an_edit_with_a_version_of_its_own_loads(self, tmp_path: Path) -> None:
        import re

        from callguard.config import _load_packs

        packs = self._copy(tmp_path)
        text = (packs / "us-ut.toml").read_text()
        cut, count = re.subn(r'(?m)^version = "[^"]+"', 'version = "2099.1.1-site"',
                             _cut_before_last_table(text),
                             count=1)
        assert count == 1
        (packs / "us-ut.toml").write_text(cut)
        assert _load_packs(packs, {}, ())["us-ut"].version == "2099.1.1-site"


def test_a_key_where_a_table_belongs_is_a_problem_named_not_a_crash(tmp_path):
    """`callguard = 5` or `http = 3` (a key where a [section] belongs) was an internal
    error (TypeError: 'int' object is not iterable); each is a problem of its own now."""
    from callguard.config import ConfigErrors, load_settings

    path = tmp_path / "c.toml"
    path.write_text('callguard = 5\nhttp = 3\nlog = "x"\n')
    with pytest.raises(ConfigErrors) as raised:
        load_settings(path, data_dir=tmp_path)
    problems = raised.value.problems
    assert len(problems) == 3, problems
    assert all("must be a table" in p for p in problems), problems


def test_a_campaigns_table_not_an_array_is_refused(tmp_path):
    """`[campaigns]` (one bracket) for `[[campaigns]]`: named, never read as a campaign."""
    from callguard.config import ConfigErrors

    path = tmp_path / "c.toml"
    path.write_text('[campaigns]\nid = "x"\n')
    with pytest.raises(ConfigErrors, match=r"\[\[campaigns\]\] entry"):
        load_settings(path, data_dir=tmp_path)


class TestSubjectsOfOneSeller:
    """A cap on "the same subject" counts per subject as written: two spellings of one
    subject by one seller would be two counts (six calls past a cap of three)."""

    @staticmethod
    def _two(first: str, second: str, solicitor2: str = "s") -> str:
        return (f'[[campaigns]]\nid = "c1"\nsolicitor = "s"\ncaller_id = "+18015550100"\n'
                f'subject = "{first}"\n'
                f'[[campaigns]]\nid = "c2"\nsolicitor = "{solicitor2}"\n'
                f'caller_id = "+18015550100"\nsubject = "{second}"\n')

    @pytest.mark.parametrize("second", ["solar", "Solar ", "SOLAR", " Solar"])
    def test_one_subject_spelt_two_ways_is_refused(self, tmp_path, second):
        with pytest.raises(ConfigError) as refused:
            load_settings(write(tmp_path, self._two("Solar", second)))
        assert "only in case, spacing" in str(refused.value)
        assert "c2" in str(refused.value)

    def test_the_same_spelling_and_other_subjects_load(self, tmp_path):
        settings = load_settings(write(tmp_path, self._two("Solar", "Solar")))
        assert {c.subject for c in settings.campaigns.values()} == {"Solar"}
        load_settings(write(tmp_path, self._two("Solar", "Solar", solicitor2="t")))
        load_settings(write(tmp_path, self._two("Solar", "Roofing")))
        load_settings(write(tmp_path, self._two("Solar", "Roofing", solicitor2="t")))

    @pytest.mark.parametrize("second", ["Sol\\u200bar", "\\uff33olar", "Solar\\u00ad"])
    def test_one_subject_spelt_with_look_alike_characters_is_refused(self, tmp_path, second):
        """hrev76: a zero-width space, a full-width letter or a soft hyphen reads as the
        same subject on screen and was counted apart."""
        with pytest.raises(ConfigError) as refused:
            load_settings(write(tmp_path, self._two("Solar", second)))
        assert "only in case, spacing" in str(refused.value)

    def test_two_sellers_spelling_one_subject_two_ways_is_refused(self, tmp_path):
        """hrev76: under campaign-subject a subject's count is every seller's
        (``subject:NAME``; us-fl.examiner6 'counts another seller's calls on the subject'),
        so another seller's "solar" beside "Solar" split it as one seller's did."""
        with pytest.raises(ConfigError) as refused:
            load_settings(write(tmp_path, self._two("Solar", "solar", solicitor2="t")))
        assert "only in case, spacing" in str(refused.value)
        assert "seller 's'" in str(refused.value)
