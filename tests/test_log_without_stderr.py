"""A process started with no stderr (descriptor 2 closed) still decides and answers: its
operational log lines are dropped and counted, as on a full disk (audit.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_with_stderr_closed_answers_block(tmp_path: Path) -> None:
    """``sys.stderr`` is None then; the logger factory read ``sys.stderr.buffer`` and every
    log call raised AttributeError: `check` exited 3 having printed nothing (the first
    line it logs is at start), and a node's warnings in a call's path raised too."""
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    env.pop("CALLGUARD_CONFIG", None)
    command = (f"exec {sys.executable} -m callguard check 8015550123 --campaign "
               "ut-solar-manual --at 2026-12-08T11:00:00-07:00 --json 2>&-")
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 1, (result.returncode, result.stdout[-500:])
    assert '"verdict"' in result.stdout
    assert "BLOCK" in result.stdout


def test_a_closed_stderr_file_is_a_dropped_line_not_an_error() -> None:
    """A stderr object closed under the logger (ValueError, not OSError) is counted too."""
    import io

    from callguard.audit import SparingBytesLogger

    closed = io.BytesIO()
    logger = SparingBytesLogger(closed)
    closed.close()
    before = SparingBytesLogger.dropped
    logger.error(b"line")
    assert SparingBytesLogger.dropped == before + 1
