"""A data dir that is a symbolic link loop: `config check` and `serve` agree, exit 2 (hcli32).

``ln -s data data`` (a link made in the wrong directory, or two links naming each other)
as ``--data-dir``, ``CALLGUARD_DATA_DIR`` or ``[callguard] data_dir``: every command,
`config check` and `serve` alike, stopped with "internal error: RuntimeError: Symlink loop
from ..." (exit 3, a fault of callguard's to the reader), from ``Path.resolve`` in
``datadir.choose_data_dir``. Now the configuration is refused, naming the path and the
loop: a usage error (exit 2), and `config check` lists it among its problems.

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


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT,
                          env={**base, **(env or {})})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    (site / "loop-a").symlink_to(site / "loop-b")
    (site / "loop-b").symlink_to(site / "loop-a")
    text = (site / "callguard.toml").read_text()
    assert 'data_dir = ""' in text
    (site / "looped.toml").write_text(text.replace('data_dir = ""',
                                                   'data_dir = "loop-a/data"', 1))
    return site


COMMANDS = [["config", "check", "--json"], ["serve"], ["dnc", "status"], ["tail"],
            ["check", "8015550142", "--campaign", "ut-solar-manual",
             "--at", "2026-12-08T10:30:00-07:00"]]


def _refused(done: subprocess.CompletedProcess[str], loop: Path) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "internal error" not in said, said
    assert "Traceback" not in said, said
    assert f"data dir {loop}" in said, said
    assert "symbolic link loop" in said, said


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("how", ["--data-dir", "CALLGUARD_DATA_DIR"])
def test_a_named_loop_is_refused_alike(site: Path, command: list[str], how: str) -> None:
    loop = site / "loop-a"
    config = ["--config", str(site / "callguard.toml")]
    if how == "--data-dir":
        done = _cli(*config, "--data-dir", str(loop), *command)
    else:
        done = _cli(*config, *command, env={"CALLGUARD_DATA_DIR": str(loop)})
    _refused(done, loop)


@pytest.mark.parametrize("command", COMMANDS[:2], ids=lambda c: " ".join(c[:2]))
def test_a_configured_loop_is_refused_alike(site: Path, command: list[str]) -> None:
    done = _cli("--config", str(site / "looped.toml"), *command)
    _refused(done, site / "loop-a" / "data")
    if command[0] == "config":
        assert any("symbolic link loop" in p for p in json.loads(done.stdout)["problems"])
