"""A ``[log] file`` no command can use is a problem ``config check`` names (hnew30).

A new admin installing the wheel set ``[log] file = "/var/log/callguard"`` (the directory
the unit's ``ReadWritePaths=`` names, not a file in it). ``config check`` said "ok" (exit
0); ``serve`` then stopped with "internal error: IsADirectoryError: [Errno 21] Is a
directory" (exit 3: a fault of callguard's, to the reader), and so did ``check``,
``tail``, ``report``, ``evidence`` and ``explain``. Now ``config check`` names it (exit 2)
and every command that opens the log refuses it as a usage error (exit 2) saying what to
write instead; ``serve`` points to ``config check``. The same for a path under a file.

Real parts: the CLI in a subprocess, a real site made by ``callguard init``.
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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``callguard init SITE`` with both lists imported: ``config check`` passes."""
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    national = site.parent / "national.txt"
    national.write_text("8015550142\n2125550142\n")
    state = site.parent / "ut-state.txt"
    state.write_text("8015550143\n")
    config = str(site / "callguard.toml")
    for path, name, covers in ((national, "national", "seen"), (state, "ut-state", "all")):
        done = _cli("--config", config, "dnc", "import", str(path), "--list", name,
                    "--published", "2026-12-01", "--covers", covers)
        assert done.returncode == 0, done.stderr
    return site


def _with_log(site: Path, log: Path) -> str:
    """A copy of the site's configuration with ``[log] file = log``; its path."""
    text = (site / "callguard.toml").read_text()
    assert '\nfile = ""' in text
    config = site / f"log-{log.name}.toml"
    config.write_text(text.replace('\nfile = ""', f'\nfile = "{log}"', 1)
                      .replace('data_dir = ""', f'data_dir = "{site / "data"}"', 1))
    return str(config)


def test_the_site_passes(site: Path) -> None:
    done = _cli("--config", str(site / "callguard.toml"), "config", "check", "--json")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def log_dir(site: Path) -> Path:
    where = site.parent / "var-log-callguard"
    where.mkdir(exist_ok=True)
    return where


def test_config_check_names_a_log_file_that_is_a_directory(site: Path, log_dir: Path) -> None:
    config = _with_log(site, log_dir)
    done = _cli("--config", config, "config", "check", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert any(f"[log] file {log_dir} is a directory" in p
               and str(log_dir / "compliance.jsonl") in p for p in problems), problems


def test_a_log_file_under_a_file_is_a_problem(site: Path) -> None:
    plain = site.parent / "plain-file"
    plain.write_text("x")
    config = _with_log(site, plain / "compliance.jsonl")
    done = _cli("--config", config, "config", "check", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    problems = json.loads(done.stdout)["problems"]
    assert any(f"{plain} is not a directory" in p for p in problems), problems


@pytest.mark.parametrize("command", [
    ["serve"],
    ["check", "8015550142", "--campaign", "ut-solar-manual",
     "--at", "2026-12-08T10:30:00-07:00"],
    ["tail"],
    ["report"],
    ["evidence", "8015550142"],
    ["explain", "01a25121-09a5-7190-ba4a-37df6f854364"],
])
def test_commands_refuse_it_as_a_usage_error(site: Path, log_dir: Path,
                                             command: list[str]) -> None:
    """Exit 2 naming the fix, never "internal error" (exit 3)."""
    done = _cli("--config", _with_log(site, log_dir), *command)
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "Traceback" not in done.stderr
    assert f"[log] file {log_dir} is a directory, not a file" in done.stderr
    if command == ["serve"]:
        assert "config check" in done.stderr


def test_tail_file_that_is_a_directory(site: Path, log_dir: Path) -> None:
    done = _cli("--config", str(site / "callguard.toml"), "tail", "--file", str(log_dir))
    assert done.returncode == 2, done.stderr
    assert f"--file {log_dir} is a directory" in done.stderr
