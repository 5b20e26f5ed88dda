"""A closed data dir refuses only the commands that open it.

hux19 refused every command but init/packs/campaigns/health/demo up front when this user
may not read the data dir. ``explain ID --file COPY`` — a compliance officer reading a copy
of the log handed to them, on a host whose node's data dir (0700, the service's) they may
not open — needs nothing there, and worked before: it was then refused, "user ... cannot
read it". Commands that may run on a file or stream of their own now go on; one that does
open a file there still meets main's PermissionError line naming it.
Run for real as ``nobody`` (tests/test_ux19_permissions.py's way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.test_ux19_permissions import RUN_AS_NOBODY, _site

ROOT = Path(__file__).resolve().parents[1]
AT = "2026-12-07T10:30:00-07:00"  # a Monday morning in Utah: the suite runs at any hour

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody")


# The interpreter's own files may be root's alone (a pyenv under /root): what explain loads
# lazily is imported before the drop too.
_PRELOAD = "import _strptime, callguard.compliance.explain, callguard.compliance.reader\n"
_MAIN = "import callguard.cli.main as cli_main\n"


def _as_nobody(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "as_nobody.py"
    assert _MAIN in RUN_AS_NOBODY
    script.write_text(RUN_AS_NOBODY.replace(_MAIN, _MAIN + _PRELOAD, 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, env=env, cwd="/", timeout=120, check=False)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="callguard-rev62-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_explain_of_a_copied_log_needs_no_data_dir(open_tmp: Path) -> None:
    config = _site(open_tmp)
    data = config.parent / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    subprocess.run([sys.executable, "-m", "callguard", "--config", str(config), "check",
                    "8015550142", "--campaign", "ut-solar-manual", "--at", AT],
                   capture_output=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert data.stat().st_mode & 0o777 == 0o700  # the node's, root's alone
    copy = open_tmp / "handed-over.jsonl"
    shutil.copy(data / "compliance.jsonl", copy)
    copy.chmod(0o644)
    config.chmod(0o644)
    records = [orjson.loads(line) for line in copy.read_bytes().splitlines()]
    decision = next(r["decision_id"] for r in records if r.get("decision_id"))
    done = _as_nobody(open_tmp, "--config", str(config), "explain", decision, "--file",
                      str(copy))
    assert done.returncode == 0, done.stderr
    assert "cannot read it" not in done.stderr
    assert decision in done.stdout or "64.1200" in done.stdout, done.stdout


def test_a_file_in_a_closed_data_dir_names_the_closed_directory(open_tmp: Path) -> None:
    """Not refused up front (it may read a --file of its own), `evidence` without one opens
    the data dir's archive: the line names the directory that is closed, its owner and
    mode, as the up-front refusal did (the file itself cannot even be looked at)."""
    config = _site(open_tmp)
    data = config.parent / "data"
    assert data.stat().st_mode & 0o777 == 0o700
    done = _as_nobody(open_tmp, "--config", str(config), "evidence", "--decision",
                      "01a24b44-e1ce-7f8b-a8f5-ce81d8dc6627")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"permission denied: {data}/" in done.stderr, done.stderr
    assert f"(in {data}: owner root, mode 700)" in done.stderr, done.stderr
