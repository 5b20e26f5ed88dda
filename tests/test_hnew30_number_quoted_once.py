"""``evidence`` and ``tail --number`` quote a refused number once (hnew30).

``callguard evidence garbage`` said "number 'garbage': 'garbage' contains letters": the
reason already names the number, as ``check`` and ``dnc check`` knew
(``common.number_reason``). Now: "number 'garbage' contains letters ...". A reason that
does not name it keeps "number '[number …5501]': only 8 digits" (never in clear).

Real parts: the CLI in a subprocess, a data dir made by ``callguard demo``.
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
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("demo")
    done = _cli("demo", "--data-dir", str(where))
    assert done.returncode == 0, done.stderr
    return where


@pytest.mark.parametrize(("number", "said"), [
    ("garbage", "usage error: number 'garbage' contains letters; dial vanity numbers"),
    ("80155501", "usage error: number '[number …5501]': only 8 digits"),
    ("+447911123456", "usage error: number [number …3456] is in region"),
])
def test_evidence_quotes_the_number_once(data_dir: Path, number: str, said: str) -> None:
    done = _cli("--data-dir", str(data_dir), "evidence", number)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr
    assert done.stderr.count("garbage") <= 1
    assert "80155501" not in done.stderr
    assert "7911123456" not in done.stderr
