"""``dnc import`` of a CRM's CSV export says what to do, not "raise --max-bad-share" (hnew30).

A new admin imported a do-not-call export with a header and two columns
(``name,phone``). Every line was malformed (2 of 2), the refusal was right, but the
advice after it was "If they are expected ..., import again with a higher
--max-bad-share (e.g. 0.01)": a setting that cannot make such a file readable. When most
lines are malformed the advice now names the forms a list takes and says to keep only the
number column; a file with a few odd lines keeps the --max-bad-share advice.

Real parts: the CLI in a subprocess, a fresh site made by ``callguard init``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    return str(site / "callguard.toml")


def _import(config: str, path: Path) -> subprocess.CompletedProcess[str]:
    return _cli("--config", config, "dnc", "import", str(path), "--list", "national",
                "--published", "2026-12-01", "--covers", "seen")


@pytest.mark.parametrize("text", [
    "name,phone\nAnn,8015550111\nBob,8015550112\n",
    "phone,name\n8015550111,Ann\n8015550112,Bob\n8015550113,Cy\n",
    "id;phone;consent\n1;8015550111;no\n2;8015550112;no\n",
])
def test_a_csv_export_is_told_to_keep_the_number_column(config: str, tmp_path: Path,
                                                        text: str) -> None:
    export = tmp_path / "crm-export.csv"
    export.write_text(text)
    done = _import(config, export)
    assert done.returncode == 1, done.stderr
    assert "nothing was imported" in done.stderr
    assert "keep only the number column" in done.stderr
    assert "import again with a higher --max-bad-share" not in done.stderr
    assert "5550111" not in done.stderr  # the lines shown name the last four only


def test_a_few_odd_lines_keep_the_max_bad_share_advice(config: str, tmp_path: Path) -> None:
    numbers = "".join(f"801555{n:04d}\n" for n in range(200))
    listing = tmp_path / "national.txt"
    listing.write_text(numbers + "see the registry's terms of use\n")
    done = _import(config, listing)
    assert done.returncode == 1, done.stderr
    assert "1 of 201 lines malformed" in done.stderr
    assert "import again with a higher --max-bad-share" in done.stderr
    assert "keep only the number column" not in done.stderr
