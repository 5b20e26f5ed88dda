"""CLI commands that never open a port or decide a call do not load the gate, numpy, the
fronts' libraries or the AMI watchdog (hspd33): ``callguard.config`` once imported them for
its settings classes, and ``--help`` imported every command to read its first line. Each
command runs in a fresh interpreter (the real ``callguard`` entry point); what it loaded is
read from ``sys.modules`` when it exits. Not timed: a module loaded again fails it."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from callguard.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]

# Loaded only to serve, decide, or read a list's bitmaps: none is a light command's business.
HEAVY = ("numpy", "panoramisk", "aiosipua", "aiohttp", "duckdb", "pyarrow", "callguard.gate",
         "callguard.runtime", "callguard.fronts.fastagi.server", "callguard.fronts.sip.server",
         "callguard.fronts.http.app", "callguard.watchdog.ami")
# ``dnc status`` reads each list's version (pyroaring, numpy: the registries'), not the fronts.
FRONTS = ("panoramisk", "aiosipua", "aiohttp", "duckdb", "callguard.fronts.fastagi.server",
          "callguard.fronts.sip.server", "callguard.watchdog.ami")

# Runs the real entry point, then writes the heavy modules it loaded to argv[1] (atexit: the
# command ends in sys.exit).
_PROBE = """
import atexit, json, sys
out, names = sys.argv[1], json.loads(sys.argv[2])
atexit.register(lambda: open(out, "w").write(json.dumps(
    [n for n in names if n in sys.modules])))
sys.argv = ["callguard", *sys.argv[3:]]
from callguard.cli.main import main
main()
"""


def loaded(tmp_path: Path, names: tuple[str, ...], *args: str) -> list[str]:
    """The modules of ``names`` that ``callguard ARGS`` loaded (the command must succeed)."""
    out = tmp_path / "loaded.json"
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(tmp_path), "COLUMNS": "200",
           "PYTHONPATH": str(ROOT)}
    env.pop("CALLGUARD_CONFIG", None)
    result = subprocess.run([sys.executable, "-c", _PROBE, str(out), json.dumps(names), *args],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    names_loaded: list[str] = json.loads(out.read_text())
    return names_loaded


@pytest.mark.parametrize("args", [("--help",), ("packs", "--help"),
                                  ("packs", "show", "us-ut-hb45-2000"), ("campaigns", "list")],
                         ids=" ".join)
def test_light_command_loads_nothing_heavy(tmp_path, args):
    assert loaded(tmp_path, HEAVY, *args) == []


def test_dnc_status_loads_no_front(tmp_path):
    assert loaded(tmp_path, FRONTS, "dnc", "status") == []


def test_the_probe_sees_a_heavy_command(tmp_path):
    """The probe can fail: ``check`` decides a call, so it loads the gate and numpy."""
    seen = loaded(tmp_path, HEAVY, "check", "--help")
    assert "callguard.gate" in seen
    assert "numpy" in seen


def _first_paragraph(command: click.Command) -> str:
    return " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())


def test_help_table_is_each_commands_own_help():
    """``_HELP``/``_SHORT_HELP`` say what each command's docstring says: a docstring edited
    without the table fails here, not in an admin's ``--help``."""
    ctx = click.Context(cli_main.cli)
    assert list(cli_main._HELP) == list(cli_main._COMMANDS)
    for name in cli_main._COMMANDS:
        command = cli_main.cli.get_command(ctx, name)
        assert command is not None, name
        assert not command.hidden, name
        assert not command.deprecated, name
        assert cli_main._HELP[name] == _first_paragraph(command), name
        assert cli_main._SHORT_HELP.get(name) == command.short_help, name


@pytest.mark.parametrize("width", [200, 80, 50])
def test_help_lists_commands_as_click_would(monkeypatch, width):
    """The listing from the table is click's own listing from the imported commands, at any
    width (click shortens each first line to the width)."""
    runner = CliRunner()
    lazy = runner.invoke(cli_main.cli, ["--help"], terminal_width=width)
    monkeypatch.setattr(cli_main._LazyGroup, "format_commands", click.Group.format_commands)
    eager = runner.invoke(cli_main.cli, ["--help"], terminal_width=width)
    assert lazy.exit_code == eager.exit_code == 0
    assert "Commands:" in lazy.output
    assert lazy.output == eager.output
