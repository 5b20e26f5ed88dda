"""callguard-admin, reviewed (hrev50) as a program root runs for someone who can write as
the service user.

- Its python ran with ``-P``, which still reads the user site under ``HOME``, and the
  script sets ``HOME`` to the service's data dir first: with a python not in a venv
  (``CALLGUARD_PYTHON=/usr/bin/python3``, as the script's own message offers), a ``.pth``
  file the service user put in ``$DATA_DIR/.local/lib/python3.X/site-packages`` ran as
  root. ``PYTHONPATH``/``PYTHONSTARTUP``-like variables of root's environment too.
- That python imports its venv's modules and ``.pth`` files as root, before
  callguard.envfile switches user: a venv the service user (or anyone but root) could
  write was root for them. Nothing checked who owns it.
- ``CALLGUARD_SERVICE_USER=root`` ran the command as root with secrets.env's ``PATH`` and
  ``LD_PRELOAD`` — what hrev45 closed, reopened by a variable.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.admin_venv import admin_python

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ROOT / "systemd" / "callguard-admin"
NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("id") is None,
                                reason="callguard-admin re-runs itself with sudo otherwise")


def admin(tmp_path: Path, *args: str, python: str, **extra: str
          ) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "secrets.env"
    if not env_file.exists():
        env_file.write_text("CALLGUARD_A=1\n")
        env_file.chmod(0o600)
    return subprocess.run(
        [str(ADMIN), *args],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
             "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": "/bin/sh",
             "CALLGUARD_DATA_DIR": str(tmp_path / "data"), "CALLGUARD_PYTHON": python,
             **extra},
        capture_output=True, text=True, check=False, timeout=60)


def plant(site: Path, marker: Path) -> None:
    """A .pth file that records the uid it is run as: what the service user would write."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "zz-evil.pth").write_text(
        f"import os; open({str(marker)!r}, 'a').write(str(os.getuid()) + ' ')\n")


def ran_as(marker: Path) -> list[str]:
    return marker.read_text().split() if marker.exists() else []


def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, NOBODY, NOBODY)
    tmp_path.chmod(0o755)
    return data


def test_the_service_user_may_not_be_root(tmp_path) -> None:
    """secrets.env's PATH, LD_PRELOAD and PYTHONPATH would apply to a root command."""
    data_dir(tmp_path)
    result = admin(tmp_path, "-c", "echo ran; id -u", python=admin_python(),
                   CALLGUARD_SERVICE_USER="root")
    assert result.returncode == 2, result.stderr
    assert "ran" not in result.stdout
    assert "root is root (uid 0, gid 0): the service's user must not be" in result.stderr


def test_the_switch_is_complete_and_for_good(tmp_path) -> None:
    """Real, effective, saved and file-system ids all the user's; its groups only (no
    root's 0 kept); capabilities gone."""
    data_dir(tmp_path)
    result = admin(tmp_path, "-c", "grep -E '^(Uid|Gid|Groups|CapPrm|CapEff):' "
                   "/proc/self/status", python=admin_python())
    assert result.returncode == 0, result.stderr
    status = {line.split(":")[0]: line.split(":")[1].split() for line in
              result.stdout.splitlines()}
    gid = pwd.getpwnam("nobody").pw_gid
    groups = [str(group) for group in os.getgrouplist("nobody", gid)]
    assert status["Uid"] == [str(NOBODY)] * 4
    assert status["Gid"] == [str(gid)] * 4
    assert sorted(status["Groups"]) == sorted(groups)
    assert status["CapPrm"] == status["CapEff"] == ["0000000000000000"]
