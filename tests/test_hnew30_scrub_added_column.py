"""``scrub --number-column callguard_reason`` is refused (hnew26 noted, hnew30 fixed).

Scrubbing yesterday's output again with ``--number-column`` naming one of the columns an
earlier scrub wrote (``callguard_reason``, ``callguard_verdict`` ...) was taken: every
row was decided on that text (BLOCK ``number-not-dialable``) and written beside the
lead's own phone number, a verdict about a column the run then drops. Now a usage error
(exit 2) naming the leads' own column as the one to give, nothing written.

Real parts: the CLI in a subprocess, a data dir made by ``callguard demo``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-12-08T10:30:00-07:00"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def scrubbed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data dir, an earlier scrub's output)."""
    where = tmp_path_factory.mktemp("demo")
    assert _cli("demo", "--data-dir", str(where)).returncode == 0
    leads = where.parent / "leads.csv"
    leads.write_text("name,phone\nAnn,8015550142\n")
    done = _cli("--data-dir", str(where), "scrub", str(leads), "--campaign",
                "ut-solar-manual", "--at", AT)
    assert done.returncode == 0, done.stderr
    return where, where.parent / "leads.scrubbed.csv"


@pytest.mark.parametrize(("option", "column"), [
    ("--number-column", "callguard_reason"),
    ("--number-column", "callguard_verdict"),
    ("--location-column", "callguard_lists"),
])
def test_a_column_an_earlier_scrub_wrote_is_refused(scrubbed: tuple[Path, Path],
                                                    option: str, column: str) -> None:
    data_dir, output = scrubbed
    done = _cli("--data-dir", str(data_dir), "scrub", str(output), "--campaign",
                "ut-solar-manual", "--at", AT, option, column, "--output", "-")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is a column an earlier scrub wrote" in done.stderr
    assert done.stdout == ""


def test_the_leads_own_column_still_works(scrubbed: tuple[Path, Path]) -> None:
    data_dir, output = scrubbed
    done = _cli("--data-dir", str(data_dir), "scrub", str(output), "--campaign",
                "ut-solar-manual", "--at", AT, "--number-column", "phone", "--output", "-")
    assert done.returncode == 0, done.stderr
    assert "Ann,8015550142,ALLOW" in done.stdout
