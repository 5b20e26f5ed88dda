"""Helpers for the compliance-log reading tests: real log files on disk and the real CLI.

Records come from ``bench/synthetic_records.py`` (schema 1, as docs/record-format.md
describes them), hashed with ``KEY``; legacy records (schema 0, written by callguard
before the compact record) are real ones in ``tests/data/legacy-compliance.jsonl``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from bench.synthetic_records import KEY, Factory
from callguard.compliance.seekable import compress_lines
from callguard.compliance.segments import stamp_name
from tests.conftest import ROOT

KEY_HEX = KEY.hex()
LEGACY = ROOT / "tests" / "data" / "legacy-compliance.jsonl"
# ``compact_before`` / ``months_before`` of the archive tests: every day (month) of the
# synthetic logs is before LATER, none after NEVER.
LATER = date(2100, 1, 1)
NEVER = date(2000, 1, 1)
LEGACY_KEY_HEX = "cd" * 32  # the CALLGUARD_LOG_KEY the legacy records were written with


def config(tmp_path: Path, data: Path, *, node: str = "node-a", extra: str = "") -> Path:
    """The shipped configuration with this data dir and node name."""
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        'packs_dir = ""')
    text = text.replace('data_dir = ""', f'data_dir = "{data}"')
    text = text.replace('node = ""', f'node = "{node}"')
    path = tmp_path / f"{node}.toml"
    path.write_text(text + extra)
    return path


def cli(*args: str, config_path: Path, key: str | None = KEY_HEX, timeout: float = 120,
        ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m callguard`` as an admin would; no traceback is ever acceptable."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("CALLGUARD_DATA_DIR", None)
    env.pop("CALLGUARD_LOG_KEY", None)
    if key is not None:
        env["CALLGUARD_LOG_KEY"] = key
    result = subprocess.run([sys.executable, "-m", "callguard", "--config", str(config_path),
                             *args], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=timeout, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


# A call placed at a stated instant, through the node's gate as `callguard check` without
# --at asks before dialling (that command can only ask about now, and this machine's clock
# reads unsynchronised): `check --at` is a question, no call (places_call false).
_CALL = """
import asyncio, sys
from datetime import datetime
from pathlib import Path
from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime

async def main():
    runtime = open_runtime(load_settings(Path(sys.argv[1])) if sys.argv[1] else
                           load_settings(data_dir=Path(sys.argv[5])))
    await runtime.start_deciding()
    try:
        decision = await runtime.gate.check(CheckRequest(
            number=sys.argv[2], campaign=sys.argv[3], at=datetime.fromisoformat(sys.argv[4]),
            front="cli"))
    finally:
        await runtime.aclose()
    print(decision.verdict.verdict)

asyncio.run(main())
"""


def placed_call(number: str, campaign: str, at: str, *, config_path: Path | None = None,
                data_dir: Path | None = None, key: str | None = KEY_HEX) -> str:
    """Decide ``number`` as a call placed at ``at`` (ISO-8601 with offset) on the node of
    ``config_path`` (else the shipped configuration on ``data_dir``), recorded in its data
    dir; the verdict. ``key`` None: the environment's log key (else the data dir's)."""
    env = {**os.environ}
    env.pop("CALLGUARD_DATA_DIR", None)
    if config_path is None:
        env.pop("CALLGUARD_CONFIG", None)
    if key is not None:
        env["CALLGUARD_LOG_KEY"] = key
    result = subprocess.run([sys.executable, "-c", _CALL, str(config_path or ""), number,
                             campaign, at, str(data_dir or "")], capture_output=True,
                            text=True, env=env, cwd=ROOT,
                            timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def house_policy_block(tmp_path: Path, number: str) -> Path:
    """A data dir with the national and Utah lists (8015550199 on both) and one call of
    ``number`` BLOCKed by H.B. 45's 9 a.m. alone (08:30 on a Monday in Utah: federal and
    Utah hours hold): a report's deciding rule is a house policy's. Its configuration."""
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    for name in ("national", "ut-state"):
        listing = tmp_path / "list.txt"
        listing.write_text("8015550199\n")
        assert cli("dnc", "import", str(listing), "--list", name, "--published",
                   "2026-12-05", "--covers", "all", config_path=path).returncode == 0
    verdict = placed_call(number, "ut-solar-manual", "2026-12-07T08:30:00-07:00",
                          config_path=path)
    assert verdict == "BLOCK", verdict
    return path


def json_lines(text: str) -> list[dict]:
    """The records a ``--json`` command printed."""
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def write_log(path: Path, lines: list[bytes], *, closed: list[tuple[int, bool]]) -> list[Path]:
    """Split ``lines`` into closed segments and a current file, as a node leaves them.

    ``closed`` is [(how many lines, compressed?), ...] oldest first; each segment is
    stamped with the ``logged_at`` of its last record (the instant the writer closed it).
    The rest is the current file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    made = []
    start = 0
    for count, compressed in closed:
        chunk = lines[start:start + count]
        start += count
        last = orjson.loads(chunk[-1])["logged_at"]
        target = stamp_name(path, datetime.fromisoformat(last).astimezone(UTC))
        if compressed:
            target = target.with_name(target.name + ".zst")
            with target.open("wb") as handle:
                compress_lines(chunk, handle, frame_bytes=64 * 1024)
        else:
            target.write_bytes(b"".join(chunk))
        made.append(target)
    path.write_bytes(b"".join(lines[start:]))
    return made


def synthetic(count: int, **kwargs: object) -> list[bytes]:
    """The lines of ``count`` decisions and the records that follow them."""
    return list(Factory(count, **kwargs).lines())  # type: ignore[arg-type]


def hold_log_lock(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    """Another process (a purge, an archiver, a node) holding the log's lock for
    ``seconds``; returns once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, time\n"
        f"fd = os.open({str(path) + '.lock'!r}, os.O_RDWR | os.O_CREAT)\n"
        f"fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep({seconds})\n")],
        stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"held\n"
    return holder
