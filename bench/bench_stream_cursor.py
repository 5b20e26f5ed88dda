"""What the node-side stream cursor costs to read a closed segment (hoff33).

Run: .venv/bin/python bench/bench_stream_cursor.py [--mib 8 32] [--runs 3] [--before FILE]

``--before``: another version of ``stream_cursor.py`` (``git show REV:callguard/compliance/
stream_cursor.py > FILE``), measured interleaved with this one in the same process.

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
import importlib.util
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import orjson

from callguard.compliance import stream_cursor
from callguard.compliance.seekable import compress_lines
from callguard.compliance.segments import closed_segments, stamp_name

_STAMP = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def _lines(mib: int) -> list[bytes]:
    count = (mib << 20) // 1024
    return [orjson.dumps({"n": n, "pad": "x" * 1000})[:1023] + b"\n" for n in range(count)]


def _walk_zst(mod: ModuleType, root: Path, lines: list[bytes]) -> tuple[float, int]:
    log = root / "compliance.jsonl"
    with Path(str(stamp_name(log, _STAMP)) + ".zst").open("wb") as out:
        compress_lines(lines, out)
    cursor = mod.Cursor(stamp=_STAMP, offset=0)
    sent = 0
    began = time.perf_counter()
    while cursor.stamp is not None:
        got, cursor, _gap = mod.read_step(log, cursor)
        sent += len(got)
    return time.perf_counter() - began, sent


def _found(mod: ModuleType, root: Path, lines: list[bytes]) -> tuple[float, int, int]:
    log = root / "compliance.jsonl"
    stamp_name(log, _STAMP).write_bytes(b"".join(lines))
    segment = closed_segments(log)[0]
    target = sum(len(x) for x in lines[:-10])
    tail = mod._hash(lines[-11])  # noqa: SLF001 - the private reader is what is measured
    cursor = mod.Cursor(stamp=_STAMP, offset=target, ino=1, tail=tail)
    began = time.perf_counter()
    found = mod._found_again(segment, cursor, 2)  # noqa: SLF001
    took = time.perf_counter() - began
    tracemalloc.start()  # a second time for the memory (tracemalloc slows each allocation)
    mod._found_again(segment, cursor, 2)  # noqa: SLF001
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert found.offset == target, (found.offset, target)
    return took, peak, found.offset


def _module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_cursor_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", help="another stream_cursor.py, measured beside")
    args = parser.parse_args()
    versions = {"now": stream_cursor}
    if args.before:
        versions = {"before": _module(args.before), **versions}
    for mib in args.mib:
        lines = _lines(mib)
        figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in versions}
        for _ in range(args.runs):
            for name, mod in versions.items():
                with tempfile.TemporaryDirectory() as tmp:
                    walked, sent = _walk_zst(mod, Path(tmp), lines)
                    assert sent == len(lines)
                with tempfile.TemporaryDirectory() as tmp:
                    found, peak, _ = _found(mod, Path(tmp), lines)
                figures[name].append((walked, found, peak))
        for name, rows in figures.items():
            print(f"{mib:5d} MiB {name:>6}  "
                  f"walk-zst {statistics.median(r[0] for r in rows):7.2f} s   "
                  f"found-again {statistics.median(r[1] for r in rows):6.2f} s  "
                  f"peak {max(r[2] for r in rows) / (1 << 20):7.1f} MiB")


if __name__ == "__main__":
    main()
