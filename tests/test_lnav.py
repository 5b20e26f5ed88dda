"""contrib/lnav/callguard.json read by Debian's lnav over a compliance log the real CLI wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tests.conftest import ROOT
from tests.test_http import AT

FORMAT = ROOT / "contrib" / "lnav" / "callguard.json"


@pytest.fixture(autouse=True, scope="module")
def _lnav() -> None:
    """No skipping: a machine without lnav fails, saying how to get it."""
    if not shutil.which("lnav"):
        raise RuntimeError("lnav not installed: run scripts/test.sh, which installs Debian's "
                           "lnav")


def _cli(data_dir, *args):
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(data_dir)}
    env.pop("CALLGUARD_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "callguard", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A compliance log with list changes, an ALLOW and a BLOCK, written by the CLI."""
    data = tmp_path_factory.mktemp("lnav")
    listing = data / "list.txt"
    listing.write_text("8015550199\n")
    today = datetime.now(UTC).date().isoformat()
    for name in ("national", "ut-state"):
        assert _cli(data, "dnc", "import", str(listing), "--list", name, "--published", today,
                    "--covers", "all").returncode == 0
    for number in ("8015550123", "8015550199"):
        done = _cli(data, "check", number, "--campaign", "ut-solar-manual", "--at", AT,
                    "--json")
        assert done.returncode in (0, 1), done.stderr
    return data / "compliance.jsonl"


def _lnav(tmp_path, log, *commands):
    """lnav headless with only this format installed (a private HOME and config dir)."""
    config = tmp_path / "config" / "formats" / "callguard"
    config.mkdir(parents=True)
    shutil.copy(FORMAT, config / FORMAT.name)
    home = tmp_path / "home"
    home.mkdir()
    args = ["lnav", "-n", "-W", "-I", str(tmp_path / "config")]
    for command in commands:
        args += ["-c", command]
    return subprocess.run([*args, str(log)], env={**os.environ, "HOME": str(home)},
                          capture_output=True, text=True, timeout=60, check=False)


class TestLnavFormat:
    """The format loads without warnings and reads every record with its own time."""

    def test_format_loads_without_warnings(self, tmp_path, log):
        """-W prints nothing about the format file."""
        result = _lnav(tmp_path, log, ";SELECT count(*) AS n FROM callguard_log")
        assert result.returncode == 0, result.stderr
        assert "warning" not in result.stderr.lower(), result.stderr
        assert "error" not in result.stderr.lower(), result.stderr

    def test_every_record_is_read_with_its_logged_at(self, tmp_path, log):
        """One row per line; log_time is logged_at; a BLOCK is an error; fields are columns."""
        query = (";SELECT log_time, log_level, event, verdict, rule, decision_id "
                 "FROM callguard_log ORDER BY log_line")
        result = _lnav(tmp_path, log, query, ":write-json-to -")
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(rows) == len(records) == 6
        for row, record in zip(rows, records, strict=True):
            assert row["log_time"].replace(" ", "T") + "Z" == record["logged_at"]
            assert row["event"] == record["event"]
            assert row["decision_id"] == record.get("decision_id")
        decisions = [(row["verdict"], row["log_level"], row["rule"]) for row in rows
                     if row["event"] == "decision"]
        assert decisions == [("ALLOW", "info", None),
                             ("BLOCK", "error", "us-federal:64.1200(c)(2)")]
        assert [row["event"] for row in rows] == ["list-change", "list-change"] + [
            "packs-loaded", "decision"] * 2  # each `check` says its packs first
