"""What a refused data dir is told to do matches what would work (hrev137).

- ``datadir.missing_data_dir``: every command but ``serve`` told a missing ``--data-dir`` /
  ``CALLGUARD_DATA_DIR`` that a new node's data dir is made "by `callguard serve` at its
  first start", while ``serve`` refuses such a named one (it makes only the configured one):
  the admin who followed it met a second refusal.
- ``cli.common._data_dir_closed``: a data dir on a read-only file system (a read-only mount,
  or under the unit's ``ProtectSystem=strict`` one outside ``ReadWritePaths=``) was told
  "user root cannot read and write it ... give root access (chown -R)": no owner or mode
  makes a read-only mount writable.

Real parts: the CLI in a subprocess; a real read-only bind mount in a private mount
namespace (``unshare -rm``, as tests/test_hnew26_config_check_writable.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.datadir import missing_data_dir

ROOT = Path(__file__).resolve().parent.parent
UNSHARE = shutil.which("unshare") or "unshare"
SERVE_MAKES_IT = "by `callguard serve` at its first start"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("CALLGUARD_") and k not in ("COLUMNS", "LINES")}


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("source", ["--data-dir", "CALLGUARD_DATA_DIR"])
@pytest.mark.parametrize("command", ["check", "dnc", "consent", "serve"])
def test_a_named_missing_data_dir_is_not_sent_to_serve(tmp_path: Path, source: str,
                                                       command: str) -> None:
    """Failed before for every command but serve: the advice named serve's first start."""
    missing = tmp_path / "data-typo"
    told = missing_data_dir(missing, source, command) or ""
    assert f"no data directory at {missing} ({source})" in told
    assert SERVE_MAKES_IT not in told, told
    assert "only when the configuration names it" in told
    assert f"install -d -m 0750 {missing}" in told


def test_the_configured_missing_data_dir_still_names_serve(tmp_path: Path) -> None:
    """The configured one is made by serve's first start: that advice stays (unchanged)."""
    missing = tmp_path / "data"
    told = missing_data_dir(missing, "[callguard] data_dir in c.toml", "check") or ""
    assert SERVE_MAKES_IT in told, told
    assert missing_data_dir(missing, "[callguard] data_dir in c.toml", "serve") is None


def test_the_cli_says_so_for_a_mistyped_data_dir(tmp_path: Path) -> None:
    """``callguard --data-dir TYPO dnc status``: the same advice on the command line.
    Failed before: it named serve's first start."""
    site = tmp_path / "site"
    made = subprocess.run([sys.executable, "-m", "callguard", "init", str(site)],
                          capture_output=True, text=True, check=False, timeout=120,
                          cwd=ROOT, env=_env())
    assert made.returncode == 0, made.stderr
    missing = tmp_path / "data-typo"
    done = subprocess.run([sys.executable, "-m", "callguard", "--config",
                           str(site / "callguard.toml"), "--data-dir", str(missing), "dnc",
                           "status"], capture_output=True, text=True, check=False,
                          timeout=120, cwd=ROOT, env=_env())
    said = _one_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert f"no data directory at {missing} (--data-dir)" in said
    assert SERVE_MAKES_IT not in said, said
    assert not missing.exists()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare not installed")
def test_a_read_only_data_dir_is_told_to_remount_not_chown(tmp_path: Path) -> None:
    """``serve`` on a data dir bind-mounted read-only: the refusal says read-only file
    system, remount / ReadWritePaths=, and no chown. Failed before: "user root cannot read
    and write it ... give root access (chown -R)"."""
    site = tmp_path / "site"
    made = subprocess.run([sys.executable, "-m", "callguard", "init", str(site)],
                          capture_output=True, text=True, check=False, timeout=120,
                          cwd=ROOT, env=_env())
    assert made.returncode == 0, made.stderr
    data = site / "data"
    probe = subprocess.run([UNSHARE, "-rm", "sh", "-c", f"mount --bind {data} {data}"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {probe.stderr.strip()}")
    # the mount must be read-only, or this exits 97 (and the test fails, not skips)
    script = (f"mount --bind {data} {data} && mount -o remount,bind,ro {data} || exit 98; "
              f"touch {data}/probe 2>/dev/null && exit 97; "
              f"exec timeout 60 {sys.executable} -m callguard --config "
              f"{site / 'callguard.toml'} serve")
    done = subprocess.run([UNSHARE, "-rm", "sh", "-c", script], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=_env())
    said = _one_line(done.stderr)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert f"data dir {data}" in said, said
    assert "read-only file system" in said, said
    assert "ReadWritePaths=" in said, said
    assert "chown" not in said, said
    assert not (data / "probe").exists()
