"""A data dir or log this user may not open is the admin's to fix (exit 2), named.

`callguard init` as root makes DIR/data 0700 root; an admin outside the service's group
runs `callguard tail` on the service's 0600 log. Both were "internal error:
PermissionError: ..." (exit 3, "callguard's own faults"). Now: a usage error naming the
data dir's owner and mode and the user, or the file. The commands run for real as
``nobody``: a root process imports the CLI (the interpreter's files may be root's alone)
and only then drops to nobody, as a service user would run it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody")

RUN_AS_NOBODY = f"""
import importlib, os, pwd, sys
sys.path.insert(0, {str(ROOT)!r})
import callguard.cli.main as cli_main
for target in cli_main._COMMANDS.values():
    importlib.import_module(target.partition(":")[0])
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
sys.argv = ["callguard", *sys.argv[1:]]
cli_main.main()
"""


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory nobody can reach (pytest's own is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="callguard-ux19-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _site(tmp_path: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    subprocess.run([sys.executable, "-m", "callguard", "init", str(tmp_path / "etc")],
                   check=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
    (tmp_path / "etc").chmod(0o755)
    return tmp_path / "etc" / "callguard.toml"


def _as_nobody(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "as_nobody.py"
    script.write_text(RUN_AS_NOBODY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, env=env, cwd="/", timeout=120, check=False)


def test_a_data_dir_this_user_cannot_read_is_named(open_tmp: Path) -> None:
    tmp_path = open_tmp
    config = _site(tmp_path)
    data = config.parent / "data"
    assert data.stat().st_mode & 0o777 == 0o700  # as init made it, root's
    done = _as_nobody(tmp_path, "--config", str(config), "config", "check")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"data dir {data}" in done.stderr
    assert "owner root, mode 700" in done.stderr
    assert "user nobody cannot read it" in done.stderr


def test_a_log_this_user_cannot_open_is_named(open_tmp: Path) -> None:
    tmp_path = open_tmp
    config = _site(tmp_path)
    data = config.parent / "data"
    data.chmod(0o755)
    log = data / "compliance.jsonl"
    log.write_text("")
    log.chmod(0o600)
    assert pwd.getpwuid(log.stat().st_uid).pw_name == "root"
    done = _as_nobody(tmp_path, "--config", str(config), "tail", "-n", "1")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"permission denied: {log} (owner root, mode 600)" in done.stderr


def test_root_is_not_refused(open_tmp: Path) -> None:
    """The check is the user's access, not the owner's name: root still reads."""
    config = _site(open_tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", "--config", str(config),
                           "dnc", "status"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120, check=False)
    assert "cannot read it" not in done.stderr
