"""The unclosed-quote check of ``scrub`` on inputs it must read once, or read exactly (hrev157).

hnew32 made ``_quotes_closed_or_exit`` open the lead file a second time to read its last 8
bytes: a lead file from a pipe (``scrub /dev/stdin``, ``<(…)``) is not seekable, and a scrub
that worked on main became "internal error: UnsupportedOperation" (exit 3); a header-only
file cut inside a quote was an IndexError (exit 3); the last bytes, read without their
encoding, took a UTF-16 BE ``č`` (01 0D) for a line break, so a file cut inside that quote
was decided; and a CR-only file's lines were counted by ``\\n`` ("the rest of line 3" for a
quote that swallows lines 3-4). Real ``python -m callguard`` processes, real files and pipes.
"""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import weekday_at

USAGE = 2


def _scrub(data: Path, leads: str, output: Path,
           stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    data.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "callguard", "--data-dir", str(data), "scrub", leads,
         "--campaign", "ut-solar-manual", "--at", weekday_at(11).isoformat(),
         "--output", str(output)],
        input=stdin, capture_output=True, env={**env, "COLUMNS": "200"}, cwd=ROOT,
        timeout=120, check=False)


def _said(result: subprocess.CompletedProcess[bytes]) -> str:
    return " ".join(result.stderr.decode("utf-8", "replace").split())


@pytest.mark.parametrize("end", ["\n", ""])
def test_a_lead_file_from_a_pipe_is_scrubbed(tmp_path: Path, end: str) -> None:
    """``cat leads.csv | callguard scrub /dev/stdin``: read once, decided, exit 0."""
    out = tmp_path / "out.csv"
    result = _scrub(tmp_path / "data", "/dev/stdin", out,
                    stdin=f"name,phone\nAnn,8015550111\nCal,8015550113{end}".encode())
    said = _said(result)
    assert "internal error" not in said, said
    assert result.returncode == 0, said
    assert "2 of 2 rows" in said, said
    assert len(out.read_text().splitlines()) == 3


def test_a_lead_file_from_a_pipe_cut_inside_a_quote_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = _scrub(tmp_path / "data", "/dev/stdin", out,
                    stdin=b'name,phone\nAnn,8015550111\nCal,"8015550113')
    said = _said(result)
    assert result.returncode == USAGE, said
    assert "a quote opened on line 3 is never closed" in said, said
    assert not out.exists()


def test_a_header_cut_inside_a_quote_is_refused_not_a_crash(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_bytes(b'name,"phone')
    result = _scrub(tmp_path / "data", str(leads), tmp_path / "out.csv")
    said = _said(result)
    assert "internal error" not in said, said
    assert "Traceback" not in said, said
    assert result.returncode == USAGE, said
    assert "a quote opened on line 1 is never closed" in said, said


def test_utf16_be_cut_after_a_letter_ending_in_0d_is_refused(tmp_path: Path) -> None:
    """``č`` is 01 0D in UTF-16 BE: its last byte is a carriage return's, not the char."""
    leads = tmp_path / "leads.csv"
    leads.write_bytes(codecs.BOM_UTF16_BE + 'phone,name\n8015550111,Ann\n8015550113,"Kovač'
                      .encode("utf-16-be"))
    out = tmp_path / "out.csv"
    result = _scrub(tmp_path / "data", str(leads), out)
    said = _said(result)
    assert result.returncode == USAGE, said
    assert "a quote opened on line 3 is never closed" in said, said
    assert not out.exists()


def test_a_cr_only_file_names_the_lines_the_quote_swallows(tmp_path: Path) -> None:
    """Lines end in CR alone (an old Mac export): the reader counts them, and so must the
    message — lines 3-4, not "the rest of line 3"."""
    leads = tmp_path / "leads.csv"
    leads.write_bytes(b'name,phone\rAnn,8015550111\rCal,"8015550113\rDee,8015550114\r')
    result = _scrub(tmp_path / "data", str(leads), tmp_path / "out.csv")
    said = _said(result)
    assert result.returncode == USAGE, said
    assert "a quote opened on line 3 is never closed, so lines 3-4 would be read" in said, said
