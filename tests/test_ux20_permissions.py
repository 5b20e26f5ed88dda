"""A PermissionError reads as the admin's to fix only on a path the admin chose.

Every PermissionError was "usage error: permission denied: PATH ... give this user access"
(exit 2): one on a file callguard itself picked wrongly (a temporary file elsewhere, a
file of the installed package, an operation with no file at all) sent the admin to chown
files that were never the problem, and hid a callguard bug. Now only the configuration's
paths (the file and its directory, the data dir, the log's directory, paths the file
names), the command line's and CALLGUARD_* variables' read so; anything else is an
internal error (exit 3) with the frames where it happened.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from callguard.cli import main as cli_main
from tests.log_files import config

_RAISE: list[PermissionError] = []


@click.command()
@click.argument("rest", nargs=-1)
def _raiser(rest: tuple[str, ...]) -> None:
    raise _RAISE[0]


def _run(monkeypatch, capsys, exc: PermissionError, *argv: str,
         after: tuple[str, ...] = ()) -> tuple[int, str]:
    _RAISE[:] = [exc]
    monkeypatch.setitem(cli_main._COMMANDS, "health", f"{__name__}:_raiser")
    monkeypatch.setattr(sys, "argv", ["callguard", *argv, "health", *after])
    monkeypatch.setattr(cli_main, "_RAN", [], raising=False)
    with pytest.raises(SystemExit) as done:
        cli_main.main()
    return int(done.value.code or 0), " ".join(capsys.readouterr().err.split())


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    for name in ("CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    etc = tmp_path / "etc"
    etc.mkdir()
    (tmp_path / "data").mkdir()
    path = config(etc, tmp_path / "data")
    text = path.read_text().replace('file = ""', f'file = "{tmp_path}/log/c.jsonl"', 1)
    path.write_text(text + f'\n[http]\ntoken_file = "{tmp_path}/secret/token"\n'
                    if "[http]" not in text else text.replace(
                        'token_file = ""', f'token_file = "{tmp_path}/secret/token"', 1))
    return path


@pytest.mark.parametrize("where", ["data/log.key", "log/c.jsonl", "etc/node-a.toml",
                                   "etc/secrets.env", "secret/token"])
def test_the_admins_paths_read_as_permission_denied(site, monkeypatch, capsys, where):
    name = str(site.parent.parent / where)
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", name),
                     "--config", str(site))
    assert code == 2, err
    assert f"permission denied: {name}" in err
    assert "internal error" not in err


def test_a_path_on_the_command_line_reads_as_permission_denied(site, monkeypatch, capsys):
    leads = site.parent.parent / "leads" / "monday.csv"
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", str(leads)),
                     "--config", str(site), f"--data-dir={site.parent.parent / 'data'}",
                     after=(str(leads.parent),))
    assert code == 2, err
    assert f"permission denied: {leads}" in err


@pytest.mark.parametrize("exc", [
    PermissionError(13, "Permission denied", "/proc/1/mem"),
    PermissionError(1, "Operation not permitted"),
    PermissionError("no file at all"),
], ids=["elsewhere", "no-file", "bare"])
def test_any_other_permission_error_is_a_bug_with_its_frames(site, monkeypatch, capsys, exc):
    code, err = _run(monkeypatch, capsys, exc, "--config", str(site))
    assert code == 3, err
    assert "internal error: PermissionError" in err
    assert "usage error" not in err
    assert "give this user access" not in err
    assert "test_ux20_permissions.py" in err  # where it was
    assert "raise _RAISE[0]" in err


def test_a_tmp_file_outside_the_configuration_is_a_bug(site, monkeypatch, capsys, tmp_path):
    """A sibling of the data dir the configuration never names is not the admin's."""
    name = str(tmp_path / "datax" / "spill.tmp")
    code, err = _run(monkeypatch, capsys, PermissionError(13, "Permission denied", name),
                     "--config", str(site))
    assert code == 3, err
