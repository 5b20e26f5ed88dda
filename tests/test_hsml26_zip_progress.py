"""A zipped list's import progress ends at 100 % when the list is read whole: it ended at
98-99 %, the bytes of the ZIP member consumed, not the archive's central directory after
it. A real `python -m callguard dnc import` of a real ZIP file."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize("kind", ["zip", "gz", "txt"])
def test_the_import_bar_ends_at_100_percent(tmp_path: Path, kind: str) -> None:
    """The last progress line says 100%, whatever the file's packing."""
    text = "".join(f"801,555{i:04d}\n" for i in range(3000))
    path = tmp_path / f"national.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("national.txt", text)
    elif kind == "gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    result = subprocess.run(
        [sys.executable, "-m", "callguard", "--data-dir", str(tmp_path), "dnc", "import",
         str(path), "--list", "national", "--published", "2026-12-01", "--covers", "all"],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT,
        timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    (bar,) = [line for line in result.stderr.splitlines() if line.startswith("reading ")]
    assert " 100% " in bar, bar
    assert "3,000 numbers" in bar, bar
