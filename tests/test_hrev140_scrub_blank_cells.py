"""A lead row whose only cells are past the header's last column is not blank (hrev140).

`scrub` skips a blank row (hsml26) and read only the header's columns to call it blank: a
row "name,phone" / ",,Ann Smith" (a stray comma shifting the lead right) has a cell the
header does not name, so it names someone, and it is malformed; it was skipped, counted as
"1 blank row skipped", and not reported. README: "A malformed row is decided, written and
reported with its line number — never skipped." Real `python -m callguard` processes on a
data dir of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.test_cli import weekday_at


def _scrub(data: Path, leads: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "callguard", "--data-dir", str(data), "scrub", str(leads),
         "--campaign", "ut-solar-manual", "--at", weekday_at(11).isoformat(), "--json"],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT,
        timeout=120, check=False)


def test_a_row_with_cells_past_the_header_is_decided_and_reported(tmp_path: Path) -> None:
    """Line 3 has a third cell, the header two: decided (a BLOCK: no number in the phone
    column), reported malformed, written; line 4 (commas only, three of them) is blank."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone\nAnn,8015550142\n,,Ann Smith\n,,\n")
    (tmp_path / "data").mkdir()
    result = _scrub(tmp_path / "data", leads)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["blank_skipped"]) == (2, 1), summary
    assert sum(summary["verdicts"].values()) == 2, summary
    assert summary["malformed"][0].startswith("line 3:"), summary
    assert summary["written"] == 2, summary
