"""``report`` says the watchdog is not enabled rather than drawing its empty table (hsml27).

With ``[ami] enabled = false`` and no watchdog record in the period, the terminal report
drew "the watchdog" table with one "none" row: read as a watchdog that ran and saw
nothing. It prints one line instead. With the watchdog enabled, or with its records in the
period (an earlier configuration had it on), the table is drawn as before. JSON and CSV
are unchanged (no field added).

Real parts: the CLI in a subprocess on the shipped configuration, a real compliance log
(synthetic records, as tests/test_tail.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.log_files import cli, config, synthetic, write_log

ROOT = Path(__file__).resolve().parent.parent
LINE = "watchdog: not enabled in this configuration"


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose log holds one ``check`` decision and no watchdog record: one
    ``check`` subprocess for the module (2-4 s on a loaded 2-core machine); each test
    reports on a copy of its own (``_checked_once``)."""
    data = tmp_path_factory.mktemp("checked") / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    env["CALLGUARD_DATA_DIR"] = str(data)
    done = subprocess.run([sys.executable, "-m", "callguard", "check", "8015550123",
                           "--campaign", "ut-solar-manual", "--at",
                           "2026-12-08T11:00:00-07:00"], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=env, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return data


def _checked_once(tmp_path: Path, checked: Path) -> Path:
    """A copy of the module's checked data dir, this test's own."""
    return Path(shutil.copytree(checked, tmp_path / "data"))


def _report(config_path: Path, *args: str, secret: bool = False) -> str:
    if secret:
        os.environ["CALLGUARD_AMI_SECRET"] = "not-used-by-report"
    try:
        done = cli("report", *args, config_path=config_path, key=None)
    finally:
        os.environ.pop("CALLGUARD_AMI_SECRET", None)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_watchdog_off_and_no_records_is_one_line(tmp_path: Path, checked: Path) -> None:
    """Failed before: "the watchdog" table with a "none" row."""
    path = config(tmp_path, _checked_once(tmp_path, checked))
    out = _report(path)
    assert LINE in out, out
    assert "the watchdog" not in out
    assert "│ none " not in out
    as_json = orjson.loads(_report(path, "--json"))
    assert "watchdog_enabled" not in as_json  # JSON unchanged


def test_watchdog_on_and_no_records_keeps_the_table(tmp_path: Path, checked: Path) -> None:
    path = config(tmp_path, _checked_once(tmp_path, checked))
    text = path.read_text()
    start = text.index("\n[ami]\n")
    at = text.index("\nenabled = false\n", start)
    path.write_text(text[:at] + "\nenabled = true\n" + text[at + len("\nenabled = false\n"):])
    out = _report(path, secret=True)
    assert LINE not in out
    assert "the watchdog" in out.splitlines()  # its title a line of its own
    after = out[out.index("the watchdog"):]
    assert "│ none " in after, after
    # its title says which filters its figures do not follow (tests/test_report_watchdog_scope)
    narrowed = _report(path, "--verdict", "BLOCK", secret=True)
    assert "not narrowed by verdict BLOCK" in " ".join(narrowed.split())


def test_watchdog_off_with_its_records_in_the_period_keeps_the_table(tmp_path: Path) -> None:
    """Records of a watchdog enabled earlier are figures, shown whatever the setting now."""
    data = tmp_path / "data"
    lines = synthetic(300, days=3)
    assert any(orjson.loads(line)["event"] == "line-release" for line in lines)
    write_log(data / "compliance.jsonl", lines, closed=[])
    path = config(tmp_path, data)
    done = cli("report", config_path=path)
    assert done.returncode == 0, done.stderr
    assert LINE not in done.stdout
    after = done.stdout[done.stdout.index("the watchdog"):]
    assert "│ none " not in after, after
