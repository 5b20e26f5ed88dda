"""``config check`` says what stops ``serve`` about where it writes (hnew26).

A new admin installing the wheel found three cases where ``config check`` printed "ok"
(or listed only missing lists) while ``serve`` refused to start and pointed back to
``config check`` for "every problem of the configuration and its fix":

- ``--data-dir`` (or ``CALLGUARD_DATA_DIR``) naming a directory that does not exist: serve
  makes only the data dir its configuration names (``datadir.missing_data_dir``), and
  config check said "does not exist yet (`serve` makes the configured one ...)";
- a data dir on a read-only file system (a read-only mount; under the shipped unit's
  ``ProtectSystem=strict`` a ``data_dir`` outside ``ReadWritePaths=``): serve refused it;
- a ``[log] file`` on a read-only file system: serve cannot write its packs-loaded record
  and does not start.

Real parts: the installed CLI in a subprocess, a real read-only bind mount in a private
mount namespace (``unshare -rm``, as tests/test_compliance_log.py mounts its tmpfs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNSHARE = shutil.which("unshare") or "unshare"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT,
                          env=env or _env())


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``callguard init SITE`` with both lists the shipped packs read imported: a
    configuration ``config check`` passes (exit 0)."""
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


def _check_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    done = _cli(*args, "config", "check", "--json", env=env)
    return done.returncode, json.loads(done.stdout)


def test_the_site_passes_config_check(site: Path) -> None:
    """The baseline the cases below change one thing of."""
    code, info = _check_json("--config", str(site / "callguard.toml"))
    assert (code, info["problems"]) == (0, [])


@pytest.mark.parametrize("how", ["--data-dir", "CALLGUARD_DATA_DIR"])
def test_a_named_data_dir_that_does_not_exist_is_a_problem(site: Path, how: str) -> None:
    """serve refuses it (exit 2) and says to run config check; config check said it
    "does not exist yet (`serve` makes the configured one ...)" and listed no such problem.
    Failed before: no problem named the data dir."""
    missing = site / "data-typo"
    config = str(site / "callguard.toml")
    if how == "--data-dir":
        code, info = _check_json("--config", config, "--data-dir", str(missing))
        serve = _cli("--config", config, "--data-dir", str(missing), "serve")
    else:
        env = _env(CALLGUARD_DATA_DIR=str(missing))
        code, info = _check_json("--config", config, env=env)
        serve = _cli("--config", config, "serve", env=env)
    assert serve.returncode == 2, serve.stderr          # what config check must foresee
    assert code == 2
    first = info["problems"][0]
    assert f"no data directory at {missing} ({how})" in first, info["problems"]
    assert "only when the configuration names it" in first
    assert "serve makes the configured one" not in info["data_dir_state"]
    assert not missing.exists()                          # nothing made by either


def test_the_configured_data_dir_not_made_yet_is_no_problem(tmp_path: Path) -> None:
    """serve makes the one its configuration names: still no problem (unchanged)."""
    site = tmp_path / "site"
    assert _cli("init", str(site)).returncode == 0
    (site / "data").rmdir()
    code, info = _check_json("--config", str(site / "callguard.toml"))
    assert not any("data dir" in p or "no data directory" in p for p in info["problems"])
    assert "serve` makes the configured one" in info["data_dir_state"]
    assert code == 2  # the lists, not the data dir


def _read_only_check(site: Path, mount: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``config check --json`` with ``mount`` bind-mounted read-only over itself in a
    private mount namespace; skips where no mount can be made."""
    script = (f"mount --bind {mount} {mount} && mount -o remount,bind,ro {mount} && "
              f"touch {mount}/probe 2>/dev/null; test ! -e {mount}/probe && "
              f"exec {sys.executable} -m callguard --config {site / 'callguard.toml'} "
              + " ".join(args) + " config check --json")
    probe = subprocess.run([UNSHARE, "-rm", "sh", "-c", f"mount --bind {mount} {mount}"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {probe.stderr.strip()}")
    return subprocess.run([UNSHARE, "-rm", "sh", "-c", script], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=_env())


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare not installed")
def test_a_data_dir_on_a_read_only_file_system_is_a_problem(site: Path) -> None:
    """Failed before: exit 0, "ok", while serve refused the data dir (exit 2)."""
    done = _read_only_check(site, site / "data")
    assert done.returncode == 2, (done.stdout, done.stderr)
    info = json.loads(done.stdout)
    assert any(f"data dir {site / 'data'}" in p and "read-only file system" in p
               and "ReadWritePaths" in p for p in info["problems"]), info["problems"]
    assert info["data_dir_state"].endswith("on a READ-ONLY file system")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare not installed")
def test_a_log_file_on_a_read_only_file_system_is_a_problem(tmp_path: Path) -> None:
    """``[log] file`` outside the data dir, its directory read-only: serve cannot write the
    packs-loaded record and stops (exit 3). Failed before: config check exit 0."""
    site = tmp_path / "site"
    assert _cli("init", str(site)).returncode == 0
    logs = tmp_path / "logs"
    logs.mkdir()
    config = site / "callguard.toml"
    text = config.read_text()
    assert '\nfile = ""' in text
    config.write_text(text.replace('\nfile = ""', f'\nfile = "{logs}/compliance.jsonl"', 1))
    done = _read_only_check(site, logs)
    assert done.returncode == 2, (done.stdout, done.stderr)
    problems = json.loads(done.stdout)["problems"]
    assert any(f"[log] file {logs}/compliance.jsonl is on a read-only file system" in p
               for p in problems), problems
