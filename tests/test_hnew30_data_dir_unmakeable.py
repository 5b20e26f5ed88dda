"""A configured data dir ``serve`` cannot make: a usage error, and ``config check`` says so
(hnew30).

``serve`` makes the data dir its configuration names at its first start. One it cannot
make (its parent a file, a place no file goes such as /proc, a parent the service user
cannot write: ``/var/lib/callguard`` without ``install -d`` or the unit's
``StateDirectory=``) stopped it with "internal error: FileNotFoundError" or
"NotADirectoryError" (exit 3) when the log key was first written, while ``config check``
said "does not exist yet (`serve` makes the configured one ...)". Now serve stops with a
usage error (exit 2) saying how to make it and pointing to ``config check``, which names
the problem when the nearest existing ancestor is not a directory this user can write.

Real parts: the CLI in a subprocess, a site made by ``callguard init`` (run as root here:
the unwritable-parent case is the same branch, judged with ``os.access``).
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
    return subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=env)


@pytest.fixture
def config(tmp_path: Path) -> tuple[str, Path]:
    """A site whose data_dir lies under a plain file: it can never be made."""
    site = tmp_path / "site"
    assert _cli("init", str(site)).returncode == 0
    plain = tmp_path / "not-a-directory"
    plain.write_text("x")
    data_dir = plain / "data"
    path = site / "callguard.toml"
    text = path.read_text()
    assert 'data_dir = ""' in text
    path.write_text(text.replace('data_dir = ""', f'data_dir = "{data_dir}"', 1))
    return str(path), data_dir


def test_serve_says_it_cannot_make_the_data_dir(config: tuple[str, Path]) -> None:
    path, data_dir = config
    done = _cli("--config", path, "serve")
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert f"data dir {data_dir} ([callguard] data_dir" in done.stderr
    assert "does not exist and cannot be made" in done.stderr
    assert "install -d" in done.stderr
    assert "config check" in done.stderr


def test_config_check_names_it(config: tuple[str, Path]) -> None:
    path, data_dir = config
    done = _cli("--config", path, "config", "check", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert any(f"data dir {data_dir}" in p and "cannot be made" in p for p in problems), (
        problems)
