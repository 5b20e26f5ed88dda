"""Each command checks the compliance log it will use, and only that one (hcli32).

hnew30 refused every command but a few when ``[log] file`` is a directory, up front in
``CliState.settings``: `tail`, `report`, `evidence` and `explain` given ``--file COPY``
were refused for a log they never open (evidence's own ``--file`` skip was dead code), and
so were `dnc status`, `consent show` and the other commands that never open the log. The
commands that write a compliance record still refuse it first: nothing is acknowledged
that is not durable. ``common.LOG_USE`` says which command does what; every command of the
CLI is in it.

Real parts: the CLI in a subprocess, a real site made by ``callguard init``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest

from callguard.cli.common import LOG_USE, READS, UNUSED, WRITES
from callguard.cli.main import cli
from tests.test_hnew30_log_file_unusable import _cli, _with_log

NUMBER = "8015550142"
AT = "2026-12-08T10:30:00-07:00"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``callguard init SITE``, the national list imported, one call decided (its log)."""
    site = tmp_path_factory.mktemp("site") / "site"
    assert _cli("init", str(site)).returncode == 0
    national = site.parent / "national.txt"
    national.write_text(f"{NUMBER}\n")
    config = str(site / "callguard.toml")
    done = _cli("--config", config, "dnc", "import", str(national), "--list", "national",
                "--published", "2026-12-01", "--covers", "seen")
    assert done.returncode == 0, done.stderr
    done = _cli("--config", config, "check", NUMBER, "--campaign", "ut-solar-manual",
                "--at", AT, "--json")
    assert done.returncode in (0, 1), done.stderr
    (site / "decision-id").write_text(json.loads(done.stdout)["decision_id"])
    return site


@pytest.fixture(scope="module")
def copy(site: Path) -> Path:
    """A copy of the site's log, as an officer is handed one."""
    where = site.parent / "copy.jsonl"
    shutil.copyfile(site / "data" / "compliance.jsonl", where)
    return where


@pytest.fixture(scope="module")
def broken(site: Path) -> tuple[str, Path]:
    """The site's configuration with ``[log] file`` a directory; that directory."""
    where = site.parent / "var-log-callguard"
    where.mkdir(exist_ok=True)
    return _with_log(site, where), where


def _said(log_dir: Path) -> str:
    return f"[log] file {log_dir} is a directory"


@pytest.mark.parametrize("command", ["tail", "report", "evidence", "explain"])
def test_a_reader_given_a_copy_reads_it(site: Path, copy: Path, broken: tuple[str, Path],
                                        command: str) -> None:
    config, log_dir = broken
    args = {"tail": ["tail", "--file", str(copy)],
            "report": ["report", "--file", str(copy), "--json"],
            "evidence": ["evidence", NUMBER, "--file", str(copy), "--json"],
            "explain": ["explain", (site / "decision-id").read_text(), "--file", str(copy)],
            }[command]
    done = _cli("--config", config, *args)
    assert _said(log_dir) not in done.stderr
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", ["tail", "report", "evidence", "explain"])
def test_a_reader_of_its_own_log_is_refused(site: Path, broken: tuple[str, Path],
                                            command: str) -> None:
    config, log_dir = broken
    args = {"tail": ["tail"], "report": ["report"], "evidence": ["evidence", NUMBER],
            "explain": ["explain", (site / "decision-id").read_text()]}[command]
    done = _cli("--config", config, *args)
    assert done.returncode == 2, done.stderr
    assert _said(log_dir) in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [
    ["dnc", "status"],
    ["dnc", "check", NUMBER],
    ["attributes", "status"],
    ["consent", "show", NUMBER, "--campaign", "ut-solar-manual"],
    ["internal-dnc", "show", NUMBER, "--campaign", "ut-solar-manual"],
    ["campaigns", "list"],
])
def test_a_command_that_never_opens_the_log_is_not_refused(broken: tuple[str, Path],
                                                           args: list[str]) -> None:
    config, log_dir = broken
    done = _cli("--config", config, *args)
    assert _said(log_dir) not in done.stderr
    assert "usage error" not in done.stderr
    assert done.returncode == (1 if args[:2] == ["dnc", "check"] else 0), done.stderr  # listed


@pytest.mark.parametrize("args", [
    ["check", NUMBER, "--campaign", "ut-solar-manual", "--at", AT],
    ["consent", "add", NUMBER, "--campaign", "ut-solar-manual", "--kind", "written",
     "--source", "web form"],
    ["internal-dnc", "add", NUMBER, "--campaign", "ut-solar-manual"],
    ["dnc", "rollback", "--list", "national"],
    ["purge", "--older-than", "3000", "--yes"],
])
def test_a_command_that_writes_a_record_is_refused_first(site: Path, broken: tuple[str, Path],
                                                         args: list[str]) -> None:
    """Nothing done and nothing acknowledged: the record store is as it was."""
    config, log_dir = broken
    store = site / "data" / "records.sqlite3"
    before = store.read_bytes() if store.exists() else None
    done = _cli("--config", config, *args)
    assert done.returncode == 2, done.stderr
    assert _said(log_dir) in done.stderr
    assert (store.read_bytes() if store.exists() else None) == before
    assert not any(log_dir.iterdir())


def _paths(group: click.Group, prefix: str = "") -> list[str]:
    paths: list[str] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            paths += _paths(command, f"{path} ")
        else:
            paths.append(path)
    return paths


def test_every_command_says_what_it_does_with_the_log() -> None:
    """A new command is given its line in LOG_USE, not checked as a writer unsaid."""
    paths = _paths(cli)
    assert sorted(paths) == sorted(LOG_USE)
    assert set(LOG_USE.values()) == {WRITES, READS, UNUSED}
