"""Examiner 8: a consent window an older callguard stored with a UTC offset BLOCKed the call
``callguard:internal-error`` (exit 3), and that raise threw away every other rule's outcome:
the compliance record of a call to a number on the national registry after 9 p.m. named
neither 47 CFR 64.1200(c)(2) nor 13-25a-108. The consent lifts nothing (which hours the
person agreed to cannot be known), so the calling-hours rules BLOCK themselves naming the
record and the fix, and the other rules are judged and recorded as for any call."""

from __future__ import annotations

import json
import sqlite3

from tests.test_cli import cli

NUMBER = "8015550177"
CAMPAIGN = ("--campaign", "ut-solar-manual")
LATE = "2026-12-07T21:30:00-07:00"  # a Monday, after 9 p.m. in Utah: needs the consent


def _setup(data_dir, listed: str) -> None:
    for name in ("national", "ut-state"):
        listing = data_dir / "list.txt"
        listing.write_text(f"{listed}\n")
        assert cli("dnc", "import", str(listing), "--list", name, "--published", "2026-12-05",
                   "--covers", "all", data_dir=data_dir).returncode == 0
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               "20:00-23:00", "--granted", "2026-12-01T10:00:00-07:00",
               data_dir=data_dir).returncode == 0
    with sqlite3.connect(data_dir / "records.sqlite3") as db:  # as an older version wrote it
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00'")


def _check(data_dir):
    result = cli("check", NUMBER, *CAMPAIGN, "--at", LATE, "--json", data_dir=data_dir)
    return result.returncode, json.loads(result.stdout)


def test_the_other_rules_outcomes_are_recorded(tmp_path):
    _setup(tmp_path, NUMBER)  # on the national registry and Utah's list
    code, verdict = _check(tmp_path)
    assert code == 1, verdict
    assert verdict["verdict"] == "BLOCK"
    assert "internal-error" not in json.dumps(verdict)
    status = {o["rule"]: o for o in verdict["outcomes"]}
    for rule in ("us-federal:64.1200(c)(2)", "us-ut:13-25a-108"):
        assert status[rule]["status"] == "block", status[rule]
    for rule in ("us-federal:64.1200(c)(1)", "us-ut:13-25a-103(3):hours"):
        reason = status[rule]["reason"]
        assert status[rule]["status"] == "block", status[rule]
        assert "after 9:00 p.m." in reason
        assert "window 20:00-23:00 stored with UTC offset +00:00" in reason
        assert "re-record the consent" in reason
        assert NUMBER not in reason


def test_unlisted_the_hours_rule_decides_naming_the_fix(tmp_path):
    _setup(tmp_path, "8015550199")
    code, verdict = _check(tmp_path)
    assert code == 1, verdict
    assert verdict["rule"] in {"us-federal:64.1200(c)(1)", "us-federal:310.4(c)",
                               "us-ut:13-25a-103(3):hours"}, verdict["rule"]
    deciding = next(o for o in verdict["outcomes"] if o["rule"] == verdict["rule"])
    assert "re-record the consent" in deciding["reason"]


def test_on_a_sunday_the_rest_day_rule_blocks_naming_the_fix(tmp_path):
    """13-25a-103(3)(b): noon on a Sunday needs the consent too; the rest-day rule BLOCKs
    itself with the fix, and the hours rules, which the noon call meets, PASS."""
    _setup(tmp_path, "8015550199")
    result = cli("check", NUMBER, *CAMPAIGN, "--at", "2026-12-06T12:00:00-07:00", "--json",
                 data_dir=tmp_path)
    verdict = json.loads(result.stdout)
    assert result.returncode == 1, verdict
    assert verdict["rule"] == "us-ut:13-25a-103(3):sunday-holiday", verdict["rule"]
    status = {o["rule"]: o for o in verdict["outcomes"]}
    assert "re-record the consent" in status["us-ut:13-25a-103(3):sunday-holiday"]["reason"]
    assert status["us-federal:64.1200(c)(1)"]["status"] == "pass"
