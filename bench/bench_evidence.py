"""The evidence at scale: archive size and speed, evidence and report latency, tail.

Run: .venv/bin/python bench/bench_evidence.py [--sizes 1000000,5000000,20000000]
     [--days 60] [--tail-gb 1] [--runs 5] [--dir DIR] [--keep] [--months]

For each size N: N decisions (schema 1, bench/synthetic_records.py: six campaigns, three
fronts and scrubs, ~20 % BLOCK, a number pool of N/4 numbers, line-release records after
answered automated calls, record changes) over ``--days`` days, written as a node leaves
them: closed segments of ~100 MB (compressed, seekable zstd) and a current file. Then:

- archiving: ``archive_files`` (compaction included), records/s, and the archive's bytes
  per decision (Parquet, both tables) — goal <= 60; with ``--months``, then the month
  files (``compact_months``, as ``callguard archive`` makes them), timed apart;
- ``callguard evidence NUMBER --format json`` as a real process, for numbers with
  several decisions: wall time (median and spread of ``--runs``) — goal <= 1 s at 20 M
  and near flat from 1 M to 20 M; beside it, ``callguard --version`` (the interpreter
  and CLI start) in the same run;
- ``callguard report --since D --until D+30d --json`` (one month) — goal <= 10 s at 20 M;
- ``callguard tail -n 20`` (human and ``--json``) on a ``--tail-gb`` current file with
  the compressed segments beside it: wall time and the process's peak RSS — goal
  <= 0.2 s and <= 100 MB.

Generated data goes under ``--dir`` (default a temporary directory) and is removed
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench.synthetic_records import KEY, Factory, e164
from callguard.compliance.archive.ingest import archive_files, compact_months
from callguard.compliance.archive.store import Archive, connect
from callguard.compliance.seekable import compress_lines
from callguard.compliance.segments import stamp_name

ROOT = Path(__file__).resolve().parent.parent
SEGMENT_BYTES = 100 * 1024 * 1024
START = datetime(2026, 1, 5, tzinfo=UTC)


def twin_logs(root: Path, size: int, days: int) -> Factory:
    """The same synthetic segments under ``root/a`` and ``root/b``: an A/B of two ways of
    archiving reads equal inputs. Returns the factory (which numbers were called)."""
    factory = Factory(size, start=START, days=days, seed=size, packs_loaded=True)
    write_segments(root / "a" / "compliance.jsonl", factory)
    shutil.copytree(root / "a", root / "b")
    return factory


def write_segments(log: Path, factory: Factory, *, current_bytes: int = 0) -> dict:
    """Stream the factory's lines into compressed closed segments; the last
    ``current_bytes`` (when given) go to the current file, plain."""
    log.parent.mkdir(parents=True, exist_ok=True)
    chunk: list[bytes] = []
    size = 0
    segments = records = 0
    last = ""
    started = time.perf_counter()

    def close() -> None:
        nonlocal chunk, size, segments
        stamp = datetime.fromisoformat(last)
        target = stamp_name(log, stamp)
        target = target.with_name(target.name + ".zst")
        with target.open("wb") as handle:
            compress_lines(chunk, handle)
        chunk, size = [], 0
        segments += 1

    for record in factory.records():
        line = orjson.dumps(record) + b"\n"
        chunk.append(line)
        size += len(line)
        records += 1
        last = record["logged_at"]
        if size >= SEGMENT_BYTES:
            close()
    if chunk:
        close()
    return {"records": records, "segments": segments,
            "seconds": time.perf_counter() - started}


def write_current(log: Path, decisions: int, start: datetime) -> int:
    """A plain current file of ``decisions`` decisions after ``start``."""
    factory = Factory(decisions, start=start, days=3, seed=99, packs_loaded=True)
    with log.open("wb") as handle:
        for line in factory.lines():
            handle.write(line)
    return log.stat().st_size


def cli(args: list[str], data: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run the CLI once: wall seconds, and the result."""
    env = {**os.environ, "CALLGUARD_LOG_KEY": KEY.hex(), "CALLGUARD_DATA_DIR": str(data),
           "COLUMNS": "160"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "callguard", *args], env=env, cwd=ROOT,
                            capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{args} failed ({result.returncode}): {result.stderr.decode()[-800:]}")
    return seconds, result


def timed(args: list[str], data: Path, runs: int) -> dict:
    """Median and spread of ``runs`` runs, side by side with ``callguard --version``."""
    walls, base = [], []
    for _ in range(runs):
        base.append(cli(["--version"], data)[0])
        walls.append(cli(args, data)[0])
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "cli_start_median_s": statistics.median(base)}


def peak_rss(args: list[str], data: Path) -> float:
    """Peak RSS (MB) of one run, read by /usr/bin/time when it exists."""
    tool = shutil.which("time") or "/usr/bin/time"
    env = {**os.environ, "CALLGUARD_LOG_KEY": KEY.hex(), "CALLGUARD_DATA_DIR": str(data)}
    result = subprocess.run([tool, "-f", "%M", sys.executable, "-m", "callguard", *args],
                            env=env, cwd=ROOT, capture_output=True, check=False)
    return int(result.stderr.decode().strip().splitlines()[-1]) / 1024


def numbers_called(factory: Factory, count: int) -> list[str]:
    """Pool numbers with several decisions (found by replaying the factory's choices)."""
    return [e164(i) for i in range(0, factory.pool, max(1, factory.pool // count))][:count]


def run_size(size: int, days: int, root: Path, runs: int, months: bool = False) -> dict:
    data = root / f"n{size}"
    log = data / "compliance.jsonl"
    gc.disable()
    factory = Factory(size, start=START, days=days, seed=size, packs_loaded=True)
    made = write_segments(log, factory)
    gc.enable()
    print(f"  generated {made['records']:,} records in {made['segments']} segments "
          f"({made['seconds']:.0f} s)", flush=True)
    archive = Archive(data / "archive")
    started = time.perf_counter()
    done = archive_files(archive, log, threads=1, keep_segments=None,
                         compact_before=START.date() + timedelta(days=days + 2))
    archiving = time.perf_counter() - started
    rolled = {"files": 0, "seconds": 0.0}
    if months:
        started = time.perf_counter()
        with archive.writing() as held:
            rolled["files"] = compact_months(archive, held, connect(1),
                                             before=START.date() + timedelta(days=days + 40))
        rolled["seconds"] = time.perf_counter() - started
        print(f"  month files: {rolled['files']} in {rolled['seconds']:.1f} s", flush=True)
    manifest = archive.manifest()
    parquet = sum(f.stat().st_size for f in archive.root.rglob("*.parquet"))
    by_table = {t: sum((archive.root / p.file).stat().st_size for p in manifest.parts
                       if p.table == t) for t in ("decisions", "events")}
    decisions = manifest.rows("decisions")
    print(f"  archived {done.decisions + done.events:,} records in {archiving:.0f} s "
          f"({(done.decisions + done.events) / archiving:,.0f} records/s): "
          f"{parquet / decisions:.1f} bytes per decision "
          f"(decisions {by_table['decisions'] / decisions:.1f}, events "
          f"{by_table['events'] / decisions:.1f})", flush=True)
    wanted = numbers_called(factory, runs)
    evidence = []
    for number in wanted:
        evidence.append(timed(["evidence", number, "--format", "json"], data, 1))
    found = orjson.loads(cli(["evidence", wanted[0], "--format", "json"], data)[1].stdout)
    walls = [e["median_s"] for e in evidence]
    evidence_figures = {"median_s": statistics.median(walls), "min_s": min(walls),
                        "max_s": max(walls),
                        "cli_start_median_s": statistics.median(
                            e["cli_start_median_s"] for e in evidence),
                        "decisions_found_first": len(found["decisions"]),
                        "packs_loaded_found_first": sum(
                            d.get("packs_loaded") is not None for d in found["decisions"])}
    print(f"  evidence NUMBER: median {evidence_figures['median_s']:.2f} s "
          f"(min {min(walls):.2f}, max {max(walls):.2f}, {len(walls)} numbers); "
          f"CLI start {evidence_figures['cli_start_median_s']:.2f} s; first number: "
          f"{len(found['decisions'])} decisions, "
          f"{evidence_figures['packs_loaded_found_first']} with their packs-loaded record",
          flush=True)
    month_start = START + timedelta(days=max(0, days // 2 - 15))
    month = ["report", "--since", month_start.date().isoformat(), "--until",
             (month_start + timedelta(days=30)).date().isoformat(), "--json"]
    report = timed(month, data, max(1, runs // 2))
    print(f"  report one month: median {report['median_s']:.2f} s (min {report['min_s']:.2f}, "
          f"max {report['max_s']:.2f})", flush=True)
    return {"size": size, "days": days, "generated": made, "month_files": rolled,
            "archive": {"seconds": archiving,
                        "records_per_s": (done.decisions + done.events) / archiving,
                        "bytes": parquet, "bytes_per_decision": parquet / decisions,
                        "by_table_per_decision": {t: b / decisions
                                                  for t, b in by_table.items()},
                        "decisions": decisions, "events": manifest.rows("events"),
                        "distinct_numbers_pool": factory.pool},
            "evidence": evidence_figures, "report_month": report, "data": str(data)}


def run_tail(root: Path, gigabytes: float, runs: int, beside: Path | None) -> dict:
    """tail -n 20 on a large current file, the compressed segments of a run beside it."""
    data = beside or root / "tail"
    log = data / "compliance.jsonl"
    decisions = int(gigabytes * 1024**3 / 650 / 1.45)
    size = write_current(log, decisions, START + timedelta(days=400))
    print(f"  current file {size / 1024**3:.2f} GB beside {len(list(data.glob('*.zst')))} "
          "compressed segments", flush=True)
    figures = {}
    for name, args in (("human", ["tail", "-n", "20"]),
                       ("json", ["tail", "-n", "20", "--json"])):
        walls = [cli(args, data)[0] for _ in range(runs)]
        base = [cli(["--version"], data)[0] for _ in range(runs)]
        rss = max(peak_rss(args, data) for _ in range(2))
        figures[name] = {"median_s": statistics.median(walls), "min_s": min(walls),
                         "max_s": max(walls), "peak_rss_mb": rss,
                         "cli_start_median_s": statistics.median(base)}
        print(f"  tail -n 20 ({name}): median {statistics.median(walls):.3f} s (min "
              f"{min(walls):.3f}, max {max(walls):.3f}, {runs} runs), peak RSS {rss:.0f} MB; "
              f"callguard --version {statistics.median(base):.3f} s", flush=True)
    log.unlink()
    return {"current_bytes": size, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000,5000000,20000000")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--tail-gb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--months", action="store_true",
                        help="Then rewrite every month but the oldest as month files.")
    options = parser.parse_args()
    root = options.dir or Path(tempfile.mkdtemp(prefix="callguard-evidence-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"data under {root}; {os.cpu_count()} cores; free disk "
          f"{shutil.disk_usage(root).free / 1024**3:.0f} GB", flush=True)
    results = []
    try:
        for size in (int(s) for s in options.sizes.split(",")):
            print(f"{size:,} decisions over {options.days} days", flush=True)
            results.append(run_size(size, options.days, root, options.runs,
                                    options.months))
        print("tail", flush=True)
        beside = Path(results[-1]["data"]) if results else None
        tail = run_tail(root, options.tail_gb, options.runs, beside)
        print(orjson.dumps({"sizes": results, "tail": tail},
                           option=orjson.OPT_INDENT_2).decode())
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
