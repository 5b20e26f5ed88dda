"""A write refused by a read-only file system is the admin's to fix, not callguard's fault
(hsml27).

``check``, ``internal-dnc add``, ``dnc import`` and ``serve`` with a ``[log] file`` on a
read-only mount (or outside systemd's ``ReadWritePaths=`` under ``ProtectSystem=strict``)
said "internal error: OSError: [Errno 30] Read-only file system: ..." and exited 3, which
``Restart=on-failure`` only retried. They exit 2 now, naming the path and the fix, as a
PermissionError on a path the admin chose does (``dnc import`` still says the list change
was made and what to write down).

Real parts: the installed CLI in a subprocess, a real read-only bind mount in a private
mount namespace (``unshare -rm``, as tests/test_hnew26_config_check_writable.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNSHARE = shutil.which("unshare") or "unshare"

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None,
                                reason="unshare not installed")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``callguard init SITE`` with ``[log] file`` in a directory of its own, LOGS."""
    base = tmp_path_factory.mktemp("ro")
    site, logs = base / "site", base / "logs"
    done = subprocess.run([sys.executable, "-m", "callguard", "init", str(site)],
                          capture_output=True, text=True, check=False, cwd=ROOT, env=_env())
    assert done.returncode == 0, done.stderr
    logs.mkdir()
    config = site / "callguard.toml"
    text = config.read_text()
    assert '\nfile = ""' in text
    config.write_text(text.replace('\nfile = ""', f'\nfile = "{logs}/compliance.jsonl"', 1))
    (base / "list.txt").write_text("8015550142\n")
    return site, logs


def _read_only_run(site: Path, mount: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with ``mount`` bind-mounted read-only over itself in a private mount
    namespace; skips where no mount can be made."""
    probe = subprocess.run([UNSHARE, "-rm", "sh", "-c", f"mount --bind {mount} {mount}"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {probe.stderr.strip()}")
    script = (f"mount --bind {mount} {mount} && mount -o remount,bind,ro {mount} && "
              f"touch {mount}/probe 2>/dev/null; test ! -e {mount}/probe && "
              f"exec {sys.executable} -m callguard --config {site / 'callguard.toml'} "
              + " ".join(args))
    return subprocess.run([UNSHARE, "-rm", "sh", "-c", script], capture_output=True,
                          text=True, check=False, timeout=120, cwd=ROOT, env=_env())


@pytest.mark.parametrize("args", [
    ("check", "8015550142", "--campaign", "ut-solar-manual", "--at",
     "2026-12-04T10:30:00-07:00"),
    ("internal-dnc", "add", "8015550142", "--campaign", "ut-solar-manual"),
    ("dnc", "import", "{list}", "--list", "national", "--published", "2026-12-01",
     "--covers", "seen"),
    ("serve",),
], ids=["check", "internal-dnc-add", "dnc-import", "serve"])
def test_a_read_only_log_directory_is_exit_2_with_the_path_and_fix(
        site: tuple[Path, Path], args: tuple[str, ...]) -> None:
    """Failed before: "internal error: OSError: [Errno 30] ...", exit 3."""
    config_dir, logs = site
    args = tuple(a.replace("{list}", str(config_dir.parent / "list.txt")) for a in args)
    done = _read_only_run(config_dir, logs, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "internal error" not in done.stderr
    assert "ReadWritePaths=" in done.stderr
    if args[0] == "dnc":  # the list was imported: the record to write down, as before
        assert "the list change was made but its compliance record" in done.stderr
        assert f"{logs}/compliance.jsonl" in done.stderr
        assert "mounted read-only: mount it read-write" in done.stderr
    else:
        assert f"read-only file system: cannot write {logs}/compliance.jsonl" in done.stderr
        assert f"Mount {logs} read-write" in done.stderr
