"""A new admin's first `tail`, `report` or `explain` on a site just set up (hnew33):
`callguard init DIR`, nothing served or recorded yet. The answer was only "no compliance
log at ... check --data-dir / CALLGUARD_DATA_DIR and [log] file" — the data dir was the
right one; nothing had been recorded in it yet. It now says that first, then the wrong
data dir it may also be. Still a usage error (exit 2), nothing written. Real CLI
processes on a real `init` directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
USAGE = 2


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    for name in ("CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                            text=True, env=env, cwd=cwd, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hnew33-site")
    made = cli("init", "etc", cwd=root)
    assert made.returncode == 0, made.stderr
    return root


@pytest.mark.parametrize("args", [("tail",), ("report",),
                                  ("explain", "01a252a3-0338-7cfb-8b45-45e4668797fb")],
                         ids=" ".join)
def test_a_site_that_recorded_nothing_yet_is_told_so(site: Path, args: tuple[str, ...]) -> None:
    data = site / "etc" / "data"
    before = sorted(p.name for p in data.iterdir())
    result = cli("--config", "etc/callguard.toml", *args, cwd=site)
    assert result.returncode == USAGE, result.stderr
    said = " ".join(result.stderr.split())
    assert "nothing has been recorded in this data dir yet" in said, said
    assert "check --data-dir / CALLGUARD_DATA_DIR" in said  # the other reading, still said
    assert sorted(p.name for p in data.iterdir()) == before


def test_evidence_on_a_site_that_recorded_nothing_yet_is_told_so(site: Path) -> None:
    result = cli("--config", "etc/callguard.toml", "evidence", "8015550111", cwd=site)
    assert result.returncode == USAGE, result.stderr
    said = " ".join(result.stderr.split())
    assert "nothing has been recorded in this data dir yet" in said, said
    assert "5550111" not in said


@pytest.mark.parametrize("args", [("tail", "--since", "yesterday"),
                                  ("report", "--since", "last week")], ids=" ".join)
def test_a_since_in_words_is_shown_the_forms_taken(site: Path, args: tuple[str, ...]) -> None:
    """`--since yesterday` was answered "use 2026-11-22, 2026-11-22T08:00:00-07:00 or 2h":
    which units a time back from now takes, and what "yesterday" is, went unsaid."""
    result = cli("--config", "etc/callguard.toml", *args, cwd=site)
    assert result.returncode == USAGE, result.stderr
    said = " ".join(result.stderr.split())
    assert "a time back from now in s, m, h or d" in said, said
    assert "yesterday: 1d" in said


def test_a_report_without_blocked_calls_says_none_under_its_title(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A new site's first report (a scrub, no call placed yet) printed the "blocked calls
    by rule" title over an empty table: a report that looked cut short. One line says none."""
    root = tmp_path_factory.mktemp("hnew33-report")
    assert cli("init", "etc", cwd=root).returncode == 0
    (root / "leads.csv").write_text("phone\n8015550111\n")
    scrub = cli("--config", "etc/callguard.toml", "scrub", "leads.csv", "--campaign",
                "ut-solar-manual", "--at", "2026-12-08T10:30:00-07:00", cwd=root)
    assert scrub.returncode == 0, scrub.stderr
    result = cli("--config", "etc/callguard.toml", "report", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "blocked calls by rule: none" in result.stdout.splitlines(), result.stdout
    assert "deciding rule" not in result.stdout  # no empty table under it
