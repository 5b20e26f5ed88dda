"""A lead file cut short inside a quote on its last line is refused like any other (hnew32).

README ("CLI", scrub): a file "with a quote opened and never closed (a stray `"` in a name, a
file cut short)" is a usage error naming the line. `_quotes_closed_or_exit` re-read the file
only when a value spanned lines, which a quote opened on the last line does only when the
file ends with a line break: the same file without its final line break (a download or copy
cut short) was decided — `Cal,"8015550113` came out ALLOW for a number that may have been cut,
`"Cal,8015550113` BLOCK "no number given" — and the message for a quote on the last line said
"lines 4-4". Real `python -m callguard` processes on a data dir of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import weekday_at

USAGE = 2


def _scrub(data: Path, leads: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "callguard", "--data-dir", str(data), "scrub", str(leads),
         "--campaign", "ut-solar-manual", "--at", weekday_at(11).isoformat()],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT,
        timeout=120, check=False)


@pytest.mark.parametrize("last", ['Cal,"8015550113', '"Cal,8015550113'])
@pytest.mark.parametrize("end", ["", "\n"])
def test_a_quote_opened_on_the_last_line_is_refused(tmp_path: Path, last: str,
                                                     end: str) -> None:
    """Line 3 opens a quote the file never closes, with or without a final line break:
    exit 2, the line named once ("line 3", not "lines 3-3"), nothing decided or written."""
    leads = tmp_path / "leads.csv"
    leads.write_text(f"name,phone\nAnn,8015550111\n{last}{end}")
    (tmp_path / "data").mkdir()
    result = _scrub(tmp_path / "data", leads)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == USAGE, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "a quote opened on line 3 is never closed" in said, said
    assert "lines 3-3" not in said, said
    assert not (tmp_path / "leads.scrubbed.csv").exists()
    assert not (tmp_path / "data" / "compliance.jsonl").exists()


def test_a_last_line_with_closed_quotes_and_no_line_break_is_read(tmp_path: Path) -> None:
    """The check reads no more into a file without a final line break than it holds: a
    last value quoted and closed (`"Cal, Jr.",8015550113`) is decided, two rows."""
    leads = tmp_path / "leads.csv"
    leads.write_text('name,phone\nAnn,8015550111\n"Cal, Jr.",8015550113')
    (tmp_path / "data").mkdir()
    result = _scrub(tmp_path / "data", leads)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 rows" in " ".join(result.stderr.split()), result.stderr
