"""A consent window an older callguard stored WITH a UTC offset ("20:00+00:00"): every check
needing that consent BLOCKed "callguard:internal-error (TypeError)", naming neither the
record nor the fix. It still BLOCKs (which hours the person agreed to cannot be known), now
saying why and how to re-record; a check that does not need the consent is untouched."""

from __future__ import annotations

import json
import sqlite3

from tests.test_cli import cli

NUMBER = "8015550177"
CAMPAIGN = ("--campaign", "ut-solar-manual")
LATE = "2026-12-07T21:30:00-07:00"  # a Monday, after 9 p.m. in Utah: needs the consent
NOON = "2026-12-07T12:00:00-07:00"  # inside calling hours: needs no consent


def _stored_with_offset(data_dir) -> None:
    for name in ("national", "ut-state"):
        listing = data_dir / "list.txt"
        listing.write_text("8015550199\n")
        assert cli("dnc", "import", str(listing), "--list", name, "--published", "2026-12-05",
                   "--covers", "all", data_dir=data_dir).returncode == 0
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               "20:00-23:00", "--granted", "2026-12-01T10:00:00-07:00",
               data_dir=data_dir).returncode == 0
    # What an older version wrote for `--window 20:00+00:00-23:00`.
    with sqlite3.connect(data_dir / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00'")


def _check(data_dir, at):
    result = cli("check", NUMBER, *CAMPAIGN, "--at", at, "--json", data_dir=data_dir)
    return result.returncode, json.loads(result.stdout)


def test_a_window_stored_with_an_offset_blocks_naming_the_fix(tmp_path):
    _stored_with_offset(tmp_path)
    code, verdict = _check(tmp_path, LATE)
    assert code == 1  # a BLOCK by the consent rule naming the fix (examiner 8; was exit 3)
    assert verdict["verdict"] == "BLOCK"
    reason = verdict["reason"]
    assert "TypeError" not in reason
    assert "window 20:00-23:00 stored with UTC offset +00:00" in reason
    assert "re-record the consent" in reason
    assert "consent revoke" in reason
    assert NUMBER not in reason  # the reason is logged: no number in clear
    # A check that needs no consent is decided as before.
    code, verdict = _check(tmp_path, NOON)
    assert code == 0, verdict
    assert verdict["verdict"] == "ALLOW"


def test_the_named_fix_works(tmp_path):
    _stored_with_offset(tmp_path)
    assert cli("consent", "revoke", NUMBER, *CAMPAIGN, "--kind", "calling-hours",
               data_dir=tmp_path).returncode == 0
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               "20:00-23:00", "--granted", "2026-12-01T10:00:00-07:00",
               data_dir=tmp_path).returncode == 0
    code, verdict = _check(tmp_path, LATE)
    assert code == 0, verdict
    assert verdict["verdict"] == "ALLOW"


def test_evidence_does_not_call_the_unreadable_consent_valid(tmp_path):
    """`evidence` and `consent show` said "valid now" and window "20:00-23:00" (the offset
    dropped) for a consent every late check BLOCKed on."""
    _stored_with_offset(tmp_path)
    result = cli("evidence", NUMBER, "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    consent, = json.loads(result.stdout)["stored_now"]["sellers"]["beehive-solar"]["consents"]
    assert consent["valid_now"] is False
    assert consent["window"] == "20:00-23:00 stored with UTC offset +00:00"
    assert "re-record the consent" in consent["unreadable"]
    text = cli("evidence", NUMBER, data_dir=tmp_path).stdout
    assert "not valid now (the calling-hours consent" in text
    assert "[number" not in text
