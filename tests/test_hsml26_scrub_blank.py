"""A lead file's blank row (every cell empty: a spreadsheet's trailing ",,,") is skipped by
`scrub`, counted as such, not decided: it was recorded as a BLOCK "no number given", a
decision in the compliance log and in `report`'s scrub counts for a row that names no one.
A row with any cell filled is still decided, malformed or not. Real `python -m callguard`
processes on a data dir of their own.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import weekday_at


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    result = subprocess.run([sys.executable, "-m", "callguard", "--data-dir", str(data),
                             *args], capture_output=True, text=True,
                            env={**env, "COLUMNS": "200"}, cwd=ROOT, timeout=120,
                            check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def with_lists(root: Path) -> Path:
    """``root`` made a data dir with both lists the campaigns need (one number on each)."""
    listing = root / "list.txt"
    listing.write_text("8015550199\n")
    today = datetime.now(UTC).date().isoformat()
    for name in ("national", "ut-state"):
        made = _cli(root, "dnc", "import", str(listing), "--list", name, "--published", today,
                    "--covers", "all")
        assert made.returncode == 0, made.stderr
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_lists(tmp_path_factory.mktemp("scrub-blank"))


def _decisions(data: Path) -> list[dict[str, object]]:
    lines = (data / "compliance.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines)
            if r.get("event") == "decision" and r.get("front") == "scrub"]


def test_blank_rows_are_skipped_and_counted(data: Path, tmp_path: Path) -> None:
    """Two leads and three blank rows (commas only, spaces, and one in the middle): two
    decisions, two rows written, "3 blank rows skipped" in the summary and the JSON."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone,zip\nAnn,8015550142,84101\n,,\nBob,801-555-0199,84101\n"
                     " , ,\n,,\n")
    before = len(_decisions(data))
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 2
    assert summary["blank_skipped"] == 3
    assert summary["written"] == 2
    assert sum(summary["verdicts"].values()) == 2
    assert "callguard:invalid-number" not in summary["rules"]
    assert len(_decisions(data)) - before == 2  # no record of the blank rows
    with (tmp_path / "leads.scrubbed.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[:2] for row in rows[1:]] == [["Ann", "8015550142"], ["Bob", "801-555-0199"]]
    said = " ".join(result.stderr.split())
    assert "3 blank rows skipped (lines 3, 5, 6)" in said, said
    assert "no number given" not in said


def test_a_file_of_blank_rows_is_one_with_no_rows(data: Path, tmp_path: Path) -> None:
    """Every row blank: nothing decided, the header written alone, exit 0, as a file with
    a header and no rows — and the blank rows said."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone\n,\n,\n")
    before = len(_decisions(data))
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat())
    assert result.returncode == 0, result.stderr
    assert len(_decisions(data)) == before
    said = " ".join(result.stderr.split())
    assert "no rows" in said, said
    assert "2 blank rows skipped" in said, said
    written = (tmp_path / "leads.scrubbed.csv").read_text().splitlines()
    assert len(written) == 1


def test_a_row_with_a_name_and_no_number_is_still_decided(data: Path, tmp_path: Path
                                                          ) -> None:
    """Not blank: a lead with no number is decided (BLOCK, recorded) and written."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone\nAnn,\n")
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["blank_skipped"], summary["verdicts"]) == (
        1, 0, {"BLOCK": 1})
