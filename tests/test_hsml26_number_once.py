"""A number the CLI refuses is quoted once in its usage error, not twice.

`number_or_exit` (`consent add`, `consent|ebr|internal-dnc show`) put the quoted input
before a reason that most often quotes it itself: "usage error: number '[number …5501]x':
'[number …5501]x' contains letters; ...". Real `python -m callguard` processes, on a
data dir of their own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

USAGE = 2


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, "-m", "callguard", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env={**env, "COLUMNS": "200"},
                          cwd=ROOT, timeout=120, check=False)


@pytest.mark.parametrize(("number", "shown"), [
    ("801-555-01x", "'[number …5501]x'"),          # letters: the reason quotes it
    ("8015550123;", "'[number …0123];'"),          # a character no number holds
    ("+1 801 555 0199 ext 12", "'[number …0199 x…]'"),  # an extension
    ("80155501234567", "'[number …4567]'"),        # too long: the reason quotes it
    ("555-0123", "'[number …0123]'"),              # too short: the reason does not
    ("abc", "'abc'"),                            # no digits at all
    ("+44 20 7946 0958", "[number …0958]"),      # another region: named by its mark
])
@pytest.mark.parametrize("command", [("consent", "show"),
                                     ("consent", "add", "--kind", "written")])
def test_the_refused_number_is_quoted_once(tmp_path: Path, number: str, shown: str,
                                           command: tuple[str, ...]) -> None:
    """Once, with the words "number" before it, and never in clear."""
    result = _cli(tmp_path, *command, number, "--campaign", "ut-solar-manual")
    assert result.returncode == USAGE, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("usage error:")]
    assert line.startswith(f"usage error: number {shown}"), line
    assert line.count(shown) == 1, line
    assert line.count("[number") <= 1, line
    assert not re.search(r"\d{5}", line), line
