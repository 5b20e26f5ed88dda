"""A record import refused for a quote never closed names the line the quote opens on (hnew32).

`internal-dnc|consent|ebr import` refuse such a file (exit 2, nothing imported) saying
"line N: unexpected end of data"; N was ``csv.DictReader.line_num``, which DictReader sets
only after a row is read whole, so it named the last good row — line 2 for a quote opened on
line 3 — and the admin looked for the stray `"` in the wrong row. Real `python -m callguard`
processes, real files, a data dir of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

USAGE = 2


def _import(data: Path, csv_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "callguard", "--data-dir", str(data), "internal-dnc",
         "import", str(csv_file), "--campaign", "ut-solar-manual"],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT,
        timeout=120, check=False)


@pytest.mark.parametrize(("body", "named"), [
    ('8015550401,a\n8015550402,"walk in', "line 3:"),
    ('8015550401,a\n8015550402,"walk in\n', "line 3:"),
    ('8015550401,a\n8015550402,"walk in\n8015550403,b\n8015550404,c\n', "lines 3-5:"),
])
def test_the_line_a_quote_opens_on_is_named(tmp_path: Path, body: str, named: str) -> None:
    """Header on line 1, a good row on line 2, a quote opened on line 3: the message names
    line 3 (and, when the quote swallows later lines, the lines it runs to)."""
    records = tmp_path / "dnc.csv"
    records.write_text(f"number,source\n{body}")
    (tmp_path / "data").mkdir()
    result = _import(tmp_path / "data", records)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == USAGE, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"usage error: {named} unexpected end of data" in said, said
    assert "nothing imported" in said, said
    assert not (tmp_path / "data" / "records.sqlite3").exists()
