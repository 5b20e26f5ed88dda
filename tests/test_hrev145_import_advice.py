"""The "most lines malformed" advice of hnew30, at its edges (reviewer hrev145).

hnew30: a list file most of whose lines are malformed (a CRM export with a name column)
is told to keep only the number column, not to raise ``--max-bad-share``. The same
advice went to ``attributes import --kind reassigned``, whose lines are
``NUMBER,DATE``: keeping only the number column makes every line malformed again. Here:
the reassigned form is told to keep the number and the date; exactly half malformed
keeps the --max-bad-share advice (the threshold is "more than half"); a file of a header
only, or empty, is "no numbers", with neither advice; the lines shown never hold a
number in clear.

Real parts: the CLI in a subprocess, a fresh site made by ``callguard init``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEEP_NUMBER = "keep only the number column"
RAISE = "import again with a higher --max-bad-share"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    return str(site / "callguard.toml")


def _dnc(config: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("--config", config, "dnc", "import", str(path), "--list", "national",
                "--published", "2026-12-01", "--covers", "seen", *extra)


def test_a_reassigned_export_is_told_to_keep_number_and_date(config: str,
                                                              tmp_path: Path) -> None:
    """Failed on hnew30: "keep only the number column" for a NUMBER,DATE form."""
    export = tmp_path / "disconnects.csv"
    export.write_text("name,phone,disconnected\nAnn,8015550111,2026-11-02\n"
                      "Bob,8015550112,2026-11-03\n")
    done = _cli("--config", config, "attributes", "import", str(export), "--kind",
                "reassigned", "--published", "2026-12-01")
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())
    assert KEEP_NUMBER not in said
    assert "keep only the number and date columns" in said
    assert RAISE not in said
    assert "5550111" not in said


def test_exactly_half_keeps_the_max_bad_share_advice(config: str, tmp_path: Path) -> None:
    listing = tmp_path / "half.txt"
    listing.write_text("8015550111\nnot a number\n")
    done = _dnc(config, listing)
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())
    assert "1 of 2 lines malformed" in said
    assert RAISE in said
    assert KEEP_NUMBER not in said


def test_one_more_than_half_is_told_to_keep_the_number_column(config: str,
                                                               tmp_path: Path) -> None:
    listing = tmp_path / "most.txt"
    listing.write_text("8015550111\nnot a number\nnor this\n")
    done = _dnc(config, listing)
    said = " ".join(done.stderr.split())
    assert "2 of 3 lines malformed" in said
    assert KEEP_NUMBER in said
    assert RAISE not in said


@pytest.mark.parametrize("text", ["", "name,phone\n", "phone\n"],
                         ids=["empty", "header-two-columns", "header-one-column"])
def test_no_numbers_gets_neither_advice(config: str, tmp_path: Path, text: str) -> None:
    listing = tmp_path / "nothing.csv"
    listing.write_text(text)
    done = _dnc(config, listing)
    assert done.returncode == 1, done.stderr
    said = " ".join(done.stderr.split())
    assert KEEP_NUMBER not in said
    assert RAISE not in said


def test_max_bad_share_still_lets_a_few_odd_lines_in(config: str, tmp_path: Path) -> None:
    listing = tmp_path / "odd.txt"
    listing.write_text("".join(f"801555{n:04d}\n" for n in range(50)) + "see terms\n")
    assert _dnc(config, listing).returncode == 1
    done = _dnc(config, listing, "--max-bad-share", "0.05")
    assert done.returncode == 0, done.stderr
