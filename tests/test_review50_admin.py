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
import sys
import sysconfig
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


def test_the_service_users_home_site_never_runs_as_root(tmp_path) -> None:
    """HOME is the data dir, which the service user writes; a python outside any venv
    reads the user site there unless run with -I."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    data = data_dir(tmp_path)
    marker = tmp_path / "ran-as"
    marker.touch()
    marker.chmod(0o666)
    user_site = sysconfig.get_path("purelib", f"{os.name}_user", vars={"userbase": str(
        data / ".local")})
    plant(Path(user_site), marker)
    for path in (data / ".local", *Path(user_site).relative_to(data).parents):
        os.chown(data / path, NOBODY, NOBODY)
    admin(tmp_path, "-c", "true", python=str(base), PYTHONPATH=str(ROOT))
    assert "0" not in ran_as(marker), "a .pth file in the service user's home ran as root"


def venv_of_root(where: Path) -> Path:
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=60)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv),
                                                    "platbase": str(venv)}))
    (site / "callguard-tree.pth").write_text(f"{ROOT}\n")
    return site


def test_a_venv_the_service_user_can_write_is_refused_before_it_runs(tmp_path) -> None:
    data_dir(tmp_path)
    site = venv_of_root(tmp_path)
    marker = tmp_path / "ran-as"
    plant(site, marker)
    os.chown(site, NOBODY, NOBODY)  # pip run as the service user, or a chown -R
    result = admin(tmp_path, "-c", "echo ran", python=str(tmp_path / "venv/bin/python"))
    assert result.returncode == 2, result.stderr
    assert "ran" not in result.stdout
    assert ran_as(marker) == [], "the venv's .pth file ran as root"
    assert f"{site} (in or above {tmp_path / 'venv'}" in result.stderr
    assert "is not root's alone" in result.stderr


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_a_directory_above_the_venv_others_can_write_is_refused(tmp_path, mode) -> None:
    """Whoever can rename the venv's directory can put another venv in its place."""
    data_dir(tmp_path)
    above = tmp_path / "opt"
    above.mkdir()
    site = venv_of_root(above)
    marker = tmp_path / "ran-as"
    plant(site, marker)
    above.chmod(mode)
    result = admin(tmp_path, "-c", "echo ran", python=str(above / "venv/bin/python"))
    assert result.returncode == 2, result.stderr
    assert ran_as(marker) == []
    assert f"{above} (in or above" in result.stderr


def test_a_venv_of_roots_runs_the_command(tmp_path) -> None:
    """The check refuses nothing root installed as README says (a sticky /tmp above)."""
    data_dir(tmp_path)
    venv_of_root(tmp_path)
    result = admin(tmp_path, "-c", "id -u; echo $CALLGUARD_A",
                   python=str(tmp_path / "venv/bin/python"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(NOBODY), "1"]


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


def test_root_descriptors_do_not_reach_the_command(tmp_path) -> None:
    """A descriptor root's shell left open (here a root-only file) is not passed to
    the service user's command, where that user could open it through /proc/PID/fd."""
    data_dir(tmp_path)
    secret = tmp_path / "root-only"
    secret.write_text("root's\n")
    secret.chmod(0o600)
    env_file = tmp_path / "secrets.env"
    env_file.write_text("CALLGUARD_A=1\n")
    env_file.chmod(0o600)
    fd = os.open(secret, os.O_RDONLY)
    try:
        result = subprocess.run(
            [str(ADMIN), "-c", f"readlink /proc/$$/fd/{fd} || echo closed"],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "CALLGUARD_SERVICE_USER": "nobody",
                 "CALLGUARD_ENV_FILE": str(env_file), "CALLGUARD_BIN": "/bin/sh",
                 "CALLGUARD_DATA_DIR": str(tmp_path / "data"),
                 "CALLGUARD_PYTHON": admin_python()},
            capture_output=True, text=True, check=False, timeout=60, pass_fds=(fd,))
    finally:
        os.close(fd)
    assert str(secret) not in result.stdout
    assert "closed" in result.stdout, result.stderr


@pytest.mark.parametrize(("owner", "mode"), [(NOBODY, 0o700), (0, 0o777)])
def test_a_directory_others_can_write_cannot_swap_the_file(tmp_path, owner, mode) -> None:
    """The service user owning secrets.env's directory (a CALLGUARD_ENV_FILE in the data
    dir, say) replaced it with a link to another file of root's — a MySQL client's
    password=, another service's secrets — and root handed its lines to that user's
    command."""
    data_dir(tmp_path)
    other = tmp_path / "root-only"
    other.mkdir(mode=0o700)
    (other / "my.cnf").write_text("[client]\npassword=r00t-s3cret\n")
    (other / "my.cnf").chmod(0o600)
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "secrets.env").symlink_to(other / "my.cnf")
    os.chown(etc, owner, owner)
    etc.chmod(mode)
    result = admin(tmp_path, "-c", "echo ran; env", python=admin_python(),
                   CALLGUARD_ENV_FILE=str(etc / "secrets.env"))
    assert "r00t-s3cret" not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    assert f"{etc} is owned by uid {owner}, mode {mode:04o}" in result.stderr


def test_a_link_root_made_in_a_directory_of_roots_is_followed(tmp_path) -> None:
    """As systemd follows it for the service."""
    data_dir(tmp_path)
    (tmp_path / "real.env").write_text("CALLGUARD_A=linked\n")
    (tmp_path / "real.env").chmod(0o600)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "secrets.env").symlink_to(tmp_path / "real.env")
    result = admin(tmp_path, "-c", "echo $CALLGUARD_A", python=admin_python(),
                   CALLGUARD_ENV_FILE=str(tmp_path / "etc" / "secrets.env"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["linked"]
