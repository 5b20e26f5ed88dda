"""A list damaged on disk, a disk that fills during an import (hsto22).

A chunk file cut short fails its SHA-256 and the version is refused (the gate BLOCKs every
call in the list's scope). `dnc check NUMBER` — the operator's question "may I call it?" —
read that as "no list is loaded: check --data-dir" (exit 2, the wrong fix), or, with another
list loaded beside it, as "on no list" (exit 0) while the gate BLOCKed the call. A disk
filling during `dnc import` is refused cleanly: the current version keeps serving (here shown
with a real file-size limit in the importing process: RLIMIT_FSIZE, SIGXFSZ ignored, so a
write past it fails EFBIG as a full disk fails ENOSPC). Real files, the CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys

from tests.conftest import ROOT
from tests.test_cli_ux import cli, one_line

PUBLISHED = "2026-12-01"


def _import(data, name: str, lines: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = data / f"{name}.txt"
    path.write_text(lines)
    return cli(data, "dnc", "import", str(path), "--list", name, "--published", PUBLISHED,
               "--covers", "all", *extra)


def _cut_short(data, name: str) -> None:
    [chunk] = (data / "lists" / name / "v1").glob("npa-*")
    chunk.write_bytes(chunk.read_bytes()[:7])


def test_dnc_check_says_a_refused_list_blocks(tmp_path):
    """The national copy's one chunk cut to 7 bytes: exit 1 naming it, not exit 2 (no list
    loaded), nor exit 0 when ut-state is loaded beside it."""
    assert _import(tmp_path, "national", "8015550199\n").returncode == 0
    _cut_short(tmp_path, "national")
    alone = cli(tmp_path, "dnc", "check", "8015550150")
    assert alone.returncode == 1, alone.stderr
    said = one_line(alone.stderr)
    assert "national: no version served" in said, said
    assert "SHA-256" in said
    assert _import(tmp_path, "ut-state", "8015550199\n").returncode == 0
    beside = cli(tmp_path, "dnc", "check", "8015550150", "--json")
    assert beside.returncode == 1, beside.stdout + beside.stderr
    answer = json.loads(beside.stdout)
    assert [row["list"] for row in answer["lists"]] == ["ut-state"]
    assert set(answer["not_served"]) == {"national"}


def _limited(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_a_disk_filling_during_an_import_keeps_the_current_version(tmp_path):
    """v1 (100 numbers) imported; v2 (200,000 numbers, a chunk far over 64 KiB) imported
    with files limited to 64 KiB: refused, exit 3, nothing staged left, v1 current and
    answering; the same import without the limit publishes v2."""
    assert _import(tmp_path, "national",
                   "".join(f"801555{n:04d}\n" for n in range(100))).returncode == 0
    rng = random.Random(7)
    big = tmp_path / "big.txt"
    big.write_text("".join(f"801{n:07d}\n" for n in rng.sample(range(2_000_000, 9_999_999),
                                                                200_000)))
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(tmp_path)}
    for name in ("COLUMNS", "LINES", "CALLGUARD_CONFIG"):
        env.pop(name, None)
    command = [sys.executable, "-m", "callguard", "dnc", "import", str(big), "--list",
               "national", "--published", PUBLISHED, "--max-shrink", "1"]
    full = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=False, preexec_fn=_limited(64 * 1024))
    assert full.returncode == 3, full.stderr
    assert "Traceback" not in full.stderr
    said = one_line(full.stderr)
    assert "not published" in said, said
    assert "File too large" in said, said
    list_dir = tmp_path / "lists" / "national"
    assert (list_dir / "CURRENT").read_text() == "1\n"
    assert sorted(p.name for p in list_dir.iterdir()) == [".import-lock", "CURRENT", "v1"]
    listed = cli(tmp_path, "dnc", "check", "8015550042")
    assert listed.returncode == 1, listed.stdout
    assert "national v1: listed" in listed.stdout
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (list_dir / "CURRENT").read_text() == "2\n"
