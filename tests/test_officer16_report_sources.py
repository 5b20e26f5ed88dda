"""`report` says what its figures were read from. A regulator asked for a day's figures got
the same page whether it was read from this node's file alone (the other nodes' calls not
in it), from a copied archive, or from both: no rendering named the archive or the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config, house_policy_block

NUMBER = "8015550123"


def _report(path, *more: str):
    result = cli("report", *more, config_path=path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_report_names_its_archive_and_its_log(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                "2026-12-07T11:00:00-07:00", config_path=path)
    assert asked.returncode in (0, 1), asked.stderr
    log = (data / "compliance.jsonl").resolve()
    sources = json.loads(_report(path, "--json"))["sources"]
    assert sources["unarchived"] == str(log)
    assert sources["archive"] is None
    assert sources["archive_missing"] == str((data / "archive").resolve())
    assert f"unarchived records of {log}" in _report(path)
    log.rename(stamp_name(log, datetime.now(UTC)))  # closed, as the writer rotates it
    archived = cli("archive", "--compact-all", "--json", config_path=path)
    assert archived.returncode == 0, archived.stderr
    sources = json.loads(_report(path, "--json"))["sources"]
    assert sources["archive"] == str((data / "archive").resolve())
    assert sources["archive_days"] == 1
    page = tmp_path / "report.html"
    _report(path, "--html", str(page))
    assert f"read from: the archive at {(data / 'archive').resolve()} (1 day(s) held)" in (
        page.read_text())


def test_report_says_its_calls_by_front_and_what_a_cli_call_is(tmp_path):
    """A day of officers' `check --at` questions was "N calls" on the terminal and the page,
    the fronts in --json alone: a regulator read questions as calls placed."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    for hour in ("10", "11"):
        asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                    f"2026-12-07T{hour}:00:00-07:00", config_path=path)
        assert asked.returncode in (0, 1), asked.stderr
    # Since schema 2 (places_call) a question is told apart: no call at all (officer 18).
    text = _report(path)
    assert "calls by front: none; 2 callguard check --at question(s) counted apart" in text
    assert "places no call" in text
    said = json.loads(_report(path, "--json"))
    assert said["fronts_note"].startswith("calls by front: none; 2 `callguard check --at`")
    page = tmp_path / "report.html"
    _report(path, "--html", str(page))
    assert "calls by front: none; 2 `callguard check --at`" in page.read_text()



def test_a_house_policy_rule_is_not_listed_as_law(tmp_path):
    """"us-ut-hb45-2000:13-26a-106(1)(f)" among the blocked calls by rule read as a Utah
    Code section: H.B. 45 (2000) is a bill as introduced, a house policy here."""
    path = house_policy_block(tmp_path, NUMBER)
    text = _report(path)
    assert "us-ut-hb45-2000:13-26a-106(1)(f) (house policy, not enacted law)" in text
    assert "rules of us-ut-hb45-2000 (H.B. 45" in text
    said = json.loads(_report(path, "--json"))
    assert "us-ut-hb45-2000" in said["not_enacted_law"]
    assert list(said["by_rule"]) == ["us-ut-hb45-2000:13-26a-106(1)(f)"]  # ids unchanged
    page = tmp_path / "report.html"
    _report(path, "--html", str(page))
    assert "13-26a-106(1)(f) (house policy, not enacted law)" in page.read_text()
