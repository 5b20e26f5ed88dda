"""Configuration and pack validation: errors an admin can act on."""

from __future__ import annotations

import tomllib

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
        (CAMPAIGN + "origin_state = 'Utah'\n", "two-letter code"),
        (CAMPAIGN + "packs = ['us-mars']\n", "not enabled"),
        (CAMPAIGN + "registration = { number = 'x', expires = '2027-01-01' }\n",
         "a TOML date, unquoted"),
        (CAMPAIGN + CAMPAIGN, "defined twice"),
    ])
    def test_errors(self, tmp_path, body, message):
        """The message says what to change."""
        with pytest.raises(ConfigError, match=None) as caught:
            load_settings(write(tmp_path, body))
        assert message in str(caught.value)

    def test_missing_file(self, tmp_path):
        """A missing file is named."""
        with pytest.raises(ConfigError, match="not found"):
            load_settings(tmp_path / "nope.toml")


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
        with pytest.raises(ConfigError, match="unknown kind 'vibes'; known: caller-id"):
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
        assert not pack.in_effect(date(2025, 4, 10))


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
