"""What the node-side stream cursor costs to read a closed segment (hoff33).

Run: .venv/bin/python bench/bench_stream_cursor.py [--mib 8 32] [--runs 3]

For each size, a closed segment of ~1 KiB records (real files in a temporary directory):

- ``walk-zst``: seconds to read a compressed (seekable zstd) segment from its start to its
  end with ``read_step`` (512 lines a step): each step used to decompress every frame from
  the segment's start, so the walk grew as the square of the size;
- ``found-again``: seconds for ``_found_again`` to find the cursor in a segment rewritten
  under it (another inode: a purge, a compression), the cursor's line near its end, and
  the peak memory it takes (``tracemalloc``): it used to read the segment whole and copy
  64 KiB around every line end.

Median of ``--runs``; the figures go in docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import orjson

from callguard.compliance.seekable import compress_lines
from callguard.compliance.segments import closed_segments, stamp_name
from callguard.compliance.stream_cursor import Cursor, _found_again, _hash, read_step

_STAMP = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def _lines(mib: int) -> list[bytes]:
    count = (mib << 20) // 1024
    return [orjson.dumps({"n": n, "pad": "x" * 1000})[:1023] + b"\n" for n in range(count)]


def _walk_zst(root: Path, lines: list[bytes]) -> tuple[float, int]:
    log = root / "compliance.jsonl"
    with Path(str(stamp_name(log, _STAMP)) + ".zst").open("wb") as out:
        compress_lines(lines, out)
    cursor = Cursor(stamp=_STAMP, offset=0)
    sent = 0
    began = time.perf_counter()
    while cursor.stamp is not None:
        got, cursor, _gap = read_step(log, cursor)
        sent += len(got)
    return time.perf_counter() - began, sent


def _found(root: Path, lines: list[bytes]) -> tuple[float, int, int]:
    log = root / "compliance.jsonl"
    stamp_name(log, _STAMP).write_bytes(b"".join(lines))
    segment = closed_segments(log)[0]
    target = sum(len(x) for x in lines[:-10])
    cursor = Cursor(stamp=_STAMP, offset=target, ino=1, tail=_hash(lines[-11]))
    began = time.perf_counter()
    found = _found_again(segment, cursor, 2)
    took = time.perf_counter() - began
    tracemalloc.start()  # a second time for the memory (tracemalloc slows each allocation)
    _found_again(segment, cursor, 2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found.offset == target, (found.offset, target)
    return took, peak, found.offset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for mib in args.mib:
        lines = _lines(mib)
        walks, finds, peaks = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                took, sent = _walk_zst(Path(tmp), lines)
                assert sent == len(lines)
                walks.append(took)
            with tempfile.TemporaryDirectory() as tmp:
                took, peak, _ = _found(Path(tmp), lines)
                finds.append(took)
                peaks.append(peak)
        print(f"{mib:5d} MiB  walk-zst {statistics.median(walks):7.2f} s   "
              f"found-again {statistics.median(finds):6.2f} s  "
              f"peak {max(peaks) / (1 << 20):7.1f} MiB")


if __name__ == "__main__":
    main()
