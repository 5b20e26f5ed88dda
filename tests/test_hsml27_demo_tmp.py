"""``callguard demo`` says how to remove its temporary directory, and removes one of a demo
that failed (hsml27).

Every run left /tmp/callguard-demo-XXXX behind, unsaid. Its "try:" line needs the
directory, so a demo that succeeds keeps it and prints "remove when done: rm -r DIR"; one
that fails before that line removes it.

Real parts: the CLI in a subprocess with its own TMPDIR; the failure is a real one (the
process's file-size limit at 0, SIGXFSZ ignored, so writing the demo lists raises EFBIG).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return {**env, "TMPDIR": str(tmp), "COLUMNS": "200"}


def test_a_demo_that_succeeds_says_how_to_remove_its_directory(tmp_path: Path) -> None:
    """Failed before: no "remove when done" line."""
    done = subprocess.run([sys.executable, "-m", "callguard", "demo"], capture_output=True,
                          text=True, check=False, cwd=ROOT, env=_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    made = [p for p in tmp_path.iterdir() if p.name.startswith("callguard-demo-")]
    assert len(made) == 1, made
    lines = done.stdout.splitlines()
    tried = next(i for i, line in enumerate(lines) if line.startswith("try: callguard"))
    assert f"--data-dir {made[0]} " in lines[tried]      # still needed: kept
    assert lines[tried + 1:] == [f"remove when done: rm -r {made[0]}"]


def test_a_demo_given_its_directory_prints_no_removal(tmp_path: Path) -> None:
    """The admin's own --data-dir is theirs to keep: nothing said, nothing removed."""
    mine = tmp_path / "mine"
    done = subprocess.run([sys.executable, "-m", "callguard", "demo", "--data-dir", str(mine)],
                          capture_output=True, text=True, check=False, cwd=ROOT,
                          env=_env(tmp_path), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "remove when done" not in done.stdout
    assert mine.is_dir()


def test_a_demo_that_fails_removes_its_fresh_directory(tmp_path: Path) -> None:
    """Failed before: the directory (marker, log key) was left in TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = ("import resource, signal, sys, tempfile\n"
              "tempfile.tempdir = sys.argv[1]\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))\n"
              "sys.argv = ['callguard', 'demo']\n"
              "from callguard.cli.main import main\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp)], capture_output=True,
                          text=True, check=False, cwd=ROOT, env=_env(tmp), timeout=120)
    assert done.returncode != 0, done.stdout
    assert "callguard-demo-" in done.stderr              # it did make one
    assert "try:" not in done.stdout
    assert list(tmp.iterdir()) == []
