"""A torn tail longer than the heal window is cut whole (hlog23).

After a crash the log's tail can be longer than one record without a newline: a filesystem
that extended the size before the data (NUL blocks), or a batch of many records torn in
its middle. ``LogFile._heal`` looked back 64 KiB only; past that it cut 64 KiB and left the
rest of the torn line, so the next acknowledged record was glued to it and read back as a
torn line (``tail`` skipped it, ``evidence`` could not find the call). Real files only.
"""

from __future__ import annotations

import json

import pytest

from callguard.compliance.sinks import LogFile


@pytest.mark.parametrize("tail", [b"\0" * (100 << 10), b'{"event":"decis' + b"x" * (200 << 10)],
                         ids=["nul-blocks", "long-torn-line"])
def test_a_torn_tail_longer_than_the_heal_window_is_cut_whole(tmp_path, tail):
    path = tmp_path / "compliance.jsonl"
    path.write_bytes(b'{"event":"decision","i":1}\n' + tail)
    log = LogFile(path, max_bytes=1 << 30)
    log.commit(b'{"event":"decision","i":2}\n', sync=True)
    log.close()
    assert [json.loads(x)["i"] for x in path.read_bytes().splitlines()] == [1, 2]


def test_a_file_of_one_torn_line_longer_than_the_window_is_emptied(tmp_path):
    path = tmp_path / "compliance.jsonl"
    path.write_bytes(b"\0" * (150 << 10))
    log = LogFile(path, max_bytes=1 << 30)
    log.commit(b'{"event":"decision","i":2}\n', sync=True)
    log.close()
    assert [json.loads(x)["i"] for x in path.read_bytes().splitlines()] == [2]


_LONG_LINE = """
import io, sys, time
sys.path.insert(0, {root!r})
from callguard.compliance.segments import lines_backward
data = b'{{"i":1}}\\n' + b"\\0" * (8 << 20) + b'\\n{{"i":2}}\\n'
print(sum(1 for _ in lines_backward(io.BytesIO(data), len(data), block=64)))
"""


def test_reading_back_over_a_long_torn_line_is_linear(tmp_path):
    """``tail`` over a current file ending in 50 MB of NULs (no newline) took 47 s and
    179 MB: each block re-copied the whole line read so far. 8 MiB in 64-byte blocks is
    131,072 steps: linear, well under a second; quadratic, ~550 GB copied (minutes)."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    result = subprocess.run([sys.executable, "-c", _LONG_LINE.format(root=root)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["3"]


def test_reading_back_over_a_long_torn_line_never_holds_it_whole(tmp_path):
    """``tail -n 20`` on a 1 GB log ending in 50 MB of NULs held 178 MB resident."""
    import tracemalloc

    from callguard.compliance.segments import LONG_LINE, lines_backward

    path = tmp_path / "compliance.jsonl"
    nuls = b"\0" * (8 * LONG_LINE)
    path.write_bytes(b'{"i":1}\n' + nuls + b'\n{"i":2}\n' + nuls)
    with path.open("rb") as handle:
        tracemalloc.start()
        try:
            lines = list(lines_backward(handle, handle.seek(0, 2)))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert [json.loads(x)["i"] for x in lines if x[:1] == b"{"] == [2, 1]
    assert len(lines) == 4
    assert all(len(x) <= 2 * LONG_LINE for x in lines)
    assert peak < 6 * LONG_LINE
