"""`callguard tail -n 20` on a gigabyte log (hlog24, issue 16: "tail reads from the end").

Profiled on a 1.08 GB current file (bench/bench_evidence.py's ``write_current``): the read
itself is one 64 KiB block from the end; the rest of the 0.5 s was the CLI's start, two
thirds of it ``callguard.cli.common`` importing the whole policy engine (packs, rules,
outcome, frequency) for one date helper. Real files and a real process only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import islice
from pathlib import Path

from callguard.compliance.reader import ReadStats, RecordFilter, newest_first

_RECORD = ('{"schema":1,"event":"line-release","logged_at":"2026-12-04T00:36:17.%03dZ",'
           '"node":"dialer-01","decision_id":"d-%d","release_ms":%d,"pad":"%s"}\n')


def _read_bytes() -> int:
    """Bytes this process has read (``rchar`` of /proc/self/io: every read(2))."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def test_tail_of_20_reads_a_bounded_amount_from_the_end(tmp_path):
    path = tmp_path / "compliance.jsonl"
    with path.open("w") as out:
        for i in range(40_000):  # ~24 MB of ~600-byte records
            out.write(_RECORD % (i % 1000, i, i, "x" * 480))
    before = _read_bytes()
    got = list(islice(newest_first(path, RecordFilter(), ReadStats()), 20))
    read = _read_bytes() - before
    assert [r["release_ms"] for r in got] == list(range(39_999, 39_979, -1))
    assert read < 256 << 10, f"{read:,} bytes read for 20 records of a 24 MB file"


_START = """
import sys
sys.argv = ["callguard", "tail", "-n", "2", "--json", "--file", {path!r}]
from callguard.cli.main import main
try:
    main()
finally:
    print("LOADED", sorted(m for m in sys.modules if m.startswith("callguard.policy")),
          file=sys.stderr)
"""


def test_tail_starts_without_the_policy_engine(tmp_path):
    """Before: ``callguard.cli.common`` imported ``callguard.policy.rules.base`` (and with
    it the engine, every rule and pack module) at start: ~2/3 of `tail`'s wall time."""
    path = tmp_path / "compliance.jsonl"
    path.write_text("".join(_RECORD % (i, i, i, "") for i in range(5)))
    result = subprocess.run([sys.executable, "-c", _START.format(path=str(path))],
                            capture_output=True, text=True, timeout=60, check=False)
    shown = [json.loads(line)["release_ms"] for line in result.stdout.splitlines()]
    assert shown == [3, 4], result.stderr[-2000:]
    loaded = next(line for line in result.stderr.splitlines() if line.startswith("LOADED"))
    assert loaded == "LOADED []", loaded
