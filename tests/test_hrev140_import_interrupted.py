"""A Ctrl-C while `dnc import` reads a list: "interrupted", exit 130, the store unchanged.

hsml26 carried a Ctrl-C past click as exit 130 (it was click's Abort, exit 2). A list
import stopped mid-way must acknowledge nothing and leave nothing: the version that was
current stays current, no version directory of the stopped import is left (a rollback
or a node refusing its current version could go back to one). A real SIGINT to a real
`python -m callguard dnc import` (started by subprocess: a job bash starts with `&`
ignores SIGINT), sent once the process holds the list file open, past its imports
(hrev140).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT
from tests.sigint_child import sigint_default


def _cli(data: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    return subprocess.Popen([sys.executable, "-m", "callguard", "--data-dir", str(data),
                             *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=sigint_default)  # noqa: PLW1509 - signal.signal only


def _until_open(pid: int, path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(fd.readlink() == path for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return
        except OSError:  # a descriptor closed meanwhile
            pass
        time.sleep(0.02)
    raise AssertionError(f"{path} never opened by {pid}")


def test_an_import_stopped_while_reading_leaves_the_current_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    small = tmp_path / "small.txt"
    small.write_text("8015550199\n")
    first = _cli(data, "dnc", "import", str(small), "--list", "national", "--published",
                 "2026-12-01", "--covers", "all")
    assert first.wait(timeout=120) == 0, first.communicate()[1]
    first.communicate()
    big = tmp_path / "big.txt"  # ~11 MB: seconds to read, the SIGINT lands inside
    big.write_text("".join(f"801{2000000 + i}\n" for i in range(1_000_000)))
    process = _cli(data, "dnc", "import", str(big), "--list", "national", "--published",
                   "2026-12-02")
    try:
        _until_open(process.pid, big)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    said = err.decode("utf-8", errors="replace")
    assert process.returncode == 130, said
    assert "Traceback" not in said, said
    assert said.splitlines()[-1] == "interrupted", said
    assert b"published" not in out + err
    listing = data / "lists" / "national"
    assert (listing / "CURRENT").read_text().strip() == "1"
    assert sorted(p.name for p in listing.iterdir() if p.name.startswith("v")) == ["v1"]
