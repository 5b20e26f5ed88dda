"""callguard-admin, run by a new admin on a venv the service user cannot reach (hnew25).

A venv made with a python under ``/root`` (pyenv's ``/root/.pyenv/versions/...``) or in a
home directory of mode 0700 runs as root but not as the service user: callguard-admin's
``callguard.envfile`` became the user, ``execve`` failed with EACCES and it said only
"callguard-admin: cannot run /opt/callguard/bin/callguard: Permission denied" — the program
is world-executable, so the message pointed at the wrong file and named no user. It now
names the user, the interpreter of the program's ``#!`` line, and the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switches to nobody: needs root")


def test_a_program_whose_interpreter_the_user_cannot_reach_is_named(tmp_path) -> None:
    tmp_path.chmod(0o755)
    hidden = tmp_path / "root-only"          # /root/.pyenv/versions/3.11.7/bin, as it were
    hidden.mkdir(mode=0o700)
    interpreter = hidden / "python3"
    interpreter.write_text("#!/bin/sh\nexit 0\n")
    interpreter.chmod(0o755)
    program = tmp_path / "callguard"          # the venv's console script, world-executable
    program.write_text(f"#!{interpreter}\n")
    program.chmod(0o755)
    env_file = tmp_path / "secrets.env"
    env_file.write_text("CALLGUARD_A=1\n")
    env_file.chmod(0o600)
    done = subprocess.run(
        [sys.executable, "-I", "-m", "callguard.envfile", "--user", "nobody", str(env_file),
         "--", str(program), "config", "check"],
        capture_output=True, text=True, check=False, timeout=60,
        cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2, done
    message = done.stderr
    assert f"cannot run {program}: Permission denied as nobody" in message, message
    assert str(interpreter) in message, message
    assert "/usr/bin/python3 -m venv" in message, message
    assert "Traceback" not in message
