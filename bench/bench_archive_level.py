"""The compacted days' zstd level, before and after, on the same records, side by side.

Run: .venv/bin/python bench/bench_archive_level.py [--size 1000000] [--days 60]
     [--level 3] [--rounds 3] [--dir DIR]

Generates the size's decisions once (bench/synthetic_records.py, as bench_evidence.py),
archives the same segments twice — compacted days at ``--level`` (3: DuckDB's default,
the level before ``COMPACTED_LEVEL``) and at ``store.COMPACTED_LEVEL`` — and prints each
archive's bytes per decision with the compressed size of every column
(``parquet_metadata()``), the archiving time, then ``callguard evidence`` (5 numbers) and
the one-month ``callguard report`` run alternately on the two archives, ``--rounds``
rounds, beside ``callguard --version``. The data is removed afterwards.
"""

# ruff: noqa: S608 - SQL text is made of the archive's own paths; no user input.
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb

from bench.bench_evidence import START, cli, numbers_called, twin_logs
from callguard.compliance.archive import store
from callguard.compliance.archive.ingest import archive_files
from callguard.compliance.archive.store import Archive


def archive_at(data: Path, level: int, size: int, days: int) -> None:
    """Archive ``data``'s segments with compacted days at ``level``; print the sizes."""
    chosen, store.COMPACTED_LEVEL = store.COMPACTED_LEVEL, level
    try:
        archive = Archive(data / "archive")
        started = time.perf_counter()
        archive_files(archive, data / "compliance.jsonl", keep_segments=None,
                      compact_before=START.date() + timedelta(days=days + 2))
        seconds = time.perf_counter() - started
    finally:
        store.COMPACTED_LEVEL = chosen
    total = sum(f.stat().st_size for f in archive.root.rglob("*.parquet"))
    print(f"level {level}: archived in {seconds:.1f} s, {total / size:.2f} B/decision",
          flush=True)
    connection = duckdb.connect()
    for table in ("decisions", "events"):
        files = [str(f) for f in (archive.root / table).rglob("*.parquet")]
        columns = connection.execute(
            "SELECT path_in_schema, sum(total_compressed_size) "
            f"FROM parquet_metadata({files}) GROUP BY 1 ORDER BY 2 DESC").fetchall()
        print(f"  {table} {sum(b for _, b in columns) / size:.2f}:",
              " ".join(f"{a}={b / size:.2f}" for a, b in columns if b / size >= 0.1),
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path)
    options = parser.parse_args()
    root = options.dir or Path(tempfile.mkdtemp(prefix="callguard-level-"))
    try:
        factory = twin_logs(root, options.size, options.days)
        archive_at(root / "a", options.level, options.size, options.days)
        archive_at(root / "b", store.COMPACTED_LEVEL, options.size, options.days)
        numbers = numbers_called(factory, 5)
        month = ["report", "--since", (START + timedelta(days=15)).date().isoformat(),
                 "--until", (START + timedelta(days=45)).date().isoformat(), "--json"]
        walls: dict[str, list[float]] = {f"{k}{s}": [] for k in "erv" for s in "ab"}
        for round_ in range(options.rounds):
            for side in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
                data = root / side
                walls["v" + side].append(cli(["--version"], data)[0])
                walls["e" + side] += [cli(["evidence", n, "--format", "json"], data)[0]
                                      for n in numbers]
                walls["r" + side].append(cli(month, data)[0])
        for key, name in (("e", "evidence"), ("r", "report month"), ("v", "--version")):
            a, b = walls[key + "a"], walls[key + "b"]
            print(f"{name}: level {options.level} median {statistics.median(a):.3f} s "
                  f"({min(a):.3f}-{max(a):.3f}, {len(a)} runs) | level "
                  f"{store.COMPACTED_LEVEL} median {statistics.median(b):.3f} s "
                  f"({min(b):.3f}-{max(b):.3f}) | ratio "
                  f"{statistics.median(b) / statistics.median(a):.2f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
