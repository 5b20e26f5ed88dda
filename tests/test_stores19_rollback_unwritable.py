"""An embedded rollback that cannot write (hsto19): the version's directory of another
user (lists imported with sudo), a read-only mount, a full disk.

Its WITHDRAWN mark, written into the current version's directory, raised a raw OSError:
an internal error, naming no fix. It is refused now, nothing rolled back, and no mark
left behind (a mark on a version still current would make a later rollback skip it).
The file systems are real: read-only bind mounts in a mount namespace (``unshare -rm``;
root ignores a directory's owner and mode, a read-only mount it cannot).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_ux import ROOT, cli

UNSHARE = shutil.which("unshare")


def _two_versions(data: Path) -> Path:
    first, second = data.parent / "a.txt", data.parent / "b.txt"
    first.write_text("8015550199\n")
    second.write_text("8015550199\n8015550198\n")
    for path, day in ((first, "2026-12-01"), (second, "2026-12-02")):
        assert cli(data, "dnc", "import", str(path), "--list", "national", "--published",
                   day, "--covers", "all").returncode == 0
    return data / "lists" / "national"


def _rollback_with_read_only(data: Path, *read_only: Path,
                             first: str = "true") -> subprocess.CompletedProcess:
    mounts = [first, *(f"mount --bind {p} {p} && mount -o remount,bind,ro {p}"
                       for p in read_only)]
    script = " && ".join([*mounts, f'exec "{sys.executable}" -m callguard dnc rollback '
                                   "--list national"])
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(data)}
    env.pop("CALLGUARD_CONFIG", None)
    return subprocess.run([UNSHARE or "unshare", "-rm", "sh", "-c", script], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    probe = subprocess.run([UNSHARE or "unshare", "-rm", "sh", "-c",
                            f"mount --bind {tmp_path} {tmp_path}"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {probe.stderr.decode().strip()}")
    root = tmp_path / "data"
    root.mkdir(mode=0o750)
    return root


def _refused(done: subprocess.CompletedProcess, list_dir: Path) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    said = " ".join(done.stderr.split())
    assert "cannot roll back from v2" in said, said
    assert "nothing was rolled back, v2 is still current" in said
    assert (list_dir / "CURRENT").read_text().strip() == "2"
    assert not (list_dir / "v2" / "WITHDRAWN").exists()
    assert not list(list_dir.glob(".CURRENT-*"))


def test_the_current_version_unwritable_refuses_the_rollback(data: Path) -> None:
    list_dir = _two_versions(data)
    _refused(_rollback_with_read_only(data, list_dir / "v2"), list_dir)
    done = cli(data, "dnc", "rollback", "--list", "national")  # writable again: it works
    assert done.returncode == 0, done.stderr
    assert (list_dir / "CURRENT").read_text().strip() == "1"


def test_a_pointer_that_cannot_be_written_undoes_the_mark(data: Path) -> None:
    """WITHDRAWN written, the new CURRENT cannot be (here its temporary file's name is
    taken by a directory; the shell's pid is the rollback's, ``exec``): the mark is taken
    back, or a later rollback would skip v2 as withdrawn while it is current."""
    list_dir = _two_versions(data)
    done = _rollback_with_read_only(data, first=f"mkdir {list_dir}/.CURRENT-$$")
    for stray in list_dir.glob(".CURRENT-*"):
        stray.rmdir()
    _refused(done, list_dir)
