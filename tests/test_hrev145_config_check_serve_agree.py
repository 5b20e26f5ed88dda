"""``config check`` and ``serve`` agree on a data dir serve cannot make and a ``[log]
file`` that is a directory (reviewer hrev145 of hnew30).

hnew30 made serve stop (exit 2) on a configured data dir it cannot make and config check
name one whose nearest existing parent is not a directory or not writable
(``os.access``). Root passes ``os.access`` everywhere: as root (how this suite runs, and
how an admin runs ``config check`` before ``systemctl start``) ``data_dir =
"/proc/cgdata"`` -- hnew30's own example -- was "does not exist yet (`serve` makes the
configured one ...)" with no problem, while serve stopped, exit 2, "cannot be made". Each
case here is run both ways: config check names the path as a problem (exit 2) and serve
refuses it (exit 2) naming the same path; no traceback. (A data_dir that is a dangling
symlink is no case: both follow it, serve makes its target and starts.)

Real parts: the CLI in a subprocess, a site made by ``callguard init``, the real /proc.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    return (site / "callguard.toml").read_text()


def _data_dir_under_a_file(tmp: Path) -> tuple[str, str, Path]:
    plain = tmp / "plain"
    plain.write_text("x")
    return "data_dir", str(plain / "data"), plain / "data"


def _data_dir_in_proc(tmp: Path) -> tuple[str, str, Path]:
    name = Path(f"/proc/callguard-hrev145-{os.getpid()}")
    return "data_dir", str(name), name


def _log_file_is_a_directory(tmp: Path) -> tuple[str, str, Path]:
    logs = tmp / "logs"
    logs.mkdir()
    return "file", str(logs), logs


CASES = {
    "data-dir-under-a-file": _data_dir_under_a_file,
    "data-dir-in-proc": _data_dir_in_proc,
    "log-file-is-a-directory": _log_file_is_a_directory,
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_check_fails_where_serve_refuses(starter: str, tmp_path: Path,
                                                case: str) -> None:
    key, value, named = CASES[case](tmp_path)
    config = tmp_path / "callguard.toml"
    empty = f'\n{key} = ""'
    assert empty in starter
    config.write_text(starter.replace(empty, f'\n{key} = "{value}"', 1))
    serve = _cli("--config", str(config), "serve")
    assert serve.returncode == 2, serve.stderr
    assert str(named) in serve.stderr
    assert "config check" in serve.stderr
    checked = _cli("--config", str(config), "config", "check", "--json")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    problems = json.loads(checked.stdout)["problems"]
    # on hnew30, as root: no problem named the /proc data dir
    assert any(str(named) in p and ("cannot be made" in p or "is a directory" in p)
               for p in problems), problems
