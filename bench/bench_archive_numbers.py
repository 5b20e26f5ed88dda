"""The number table (archive format 2) against the hash in each row (format 1), side by side.

Run: .venv/bin/python bench/bench_archive_numbers.py [--size 1000000] [--days 60]
     [--rounds 3] [--dir DIR] [--keep]

Generates the size's decisions once (bench/synthetic_records.py, as bench_evidence.py)
and archives the same segments twice: "a" in format 1 as the code before the number
table left it (``old_layout``: every compacted day holds the hash and the whole decision
id in each row, zstd ``COMPACTED_LEVEL``, manifest version 1 — which this code still
reads), "b" as the archive does now. Prints each archive's bytes per decision, then runs
``callguard evidence NUMBER`` (5 numbers), ``evidence --decision ID`` (3 ids) and the
one-month ``report`` alternately on the two, ``--rounds`` rounds, beside ``callguard
--version``, checks that both answer the same, and prints medians and ratios b/a.
"""

# ruff: noqa: S608 - SQL text is made of the archive's own paths; no user input.
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import orjson

from bench.bench_evidence import START, cli, numbers_called, twin_logs
from callguard.compliance.archive.ingest import archive_files
from callguard.compliance.archive.store import COMPACTED_LEVEL, Archive


def old_layout(archive: Archive, level: int = COMPACTED_LEVEL) -> None:
    """Compact an archive of parts (nothing compacted yet) as the code before the number
    table did: one file per day sorted by hash (decisions) with the hash and the whole
    decision id in each row; manifest version 1 without the number table."""
    connection = duckdb.connect(config={"threads": 1})
    connection.execute("SET TimeZone = 'UTC'")
    raw = orjson.loads(archive.manifest_path.read_bytes())
    by_day: dict[tuple[str, str], list[dict]] = {}
    for part in raw["parts"]:
        by_day.setdefault((part["table"], part["day"]), []).append(part)
    parts = []
    for (table, day), group in sorted(by_day.items()):
        files = "[" + ", ".join(f"'{archive.root / p['file']}'" for p in group) + "]"
        target = archive.root / table / f"day={day}" / f"c-{uuid.uuid4().hex}.parquet"
        unique = ("DISTINCT ON (coalesce(CAST(decision_id AS VARCHAR), body || "
                  "CAST(\"at\" AS VARCHAR)))" if table == "decisions" else "DISTINCT")
        order = ("number_hash, \"at\"" if table == "decisions"
                 else "number_hash NULLS LAST, decision_id, logged_at")
        connection.execute(
            f"COPY (SELECT {unique} * FROM read_parquet({files}, hive_partitioning = false) "
            f"ORDER BY {order}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, "
            f"PARQUET_VERSION V2, COMPRESSION_LEVEL {level}, ROW_GROUP_SIZE 16384)")
        for p in group:
            (archive.root / p["file"]).unlink()
        rows = connection.execute(f"SELECT count(*) FROM '{target}'").fetchone()[0]
        parts.append({"table": table, "day": day, "rows": rows, "compacted": True,
                      "file": str(target.relative_to(archive.root)),
                      "key_ids": sorted({k for p in group for k in p["key_ids"]})})
    archive.manifest_path.write_bytes(orjson.dumps({
        "version": 1, "parts": parts, "segments": raw["segments"], "stream": raw["stream"]}))


def build(data: Path, days: int, *, old: bool) -> float:
    """Archive ``data``'s segments (format 1 when ``old``); the seconds it took."""
    archive = Archive(data / "archive")
    started = time.perf_counter()
    if old:
        archive_files(archive, data / "compliance.jsonl", keep_segments=None,
                      compact_before=date(2000, 1, 1))
        old_layout(archive)
    else:
        archive_files(archive, data / "compliance.jsonl", keep_segments=None,
                      compact_before=START.date() + timedelta(days=days + 2))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    root = options.dir or Path(tempfile.mkdtemp(prefix="callguard-numbers-"))
    try:
        factory = twin_logs(root, options.size, options.days)
        for side, old in (("a", True), ("b", False)):
            seconds = build(root / side, options.days, old=old)
            total = sum(f.stat().st_size for f in (root / side / "archive").rglob("*.parquet"))
            print(f"{side} ({'format 1, hash per row' if old else 'format 2, number table'}):"
                  f" archived in {seconds:.0f} s, {total / options.size:.2f} B/decision",
                  flush=True)
        numbers = numbers_called(factory, 5)
        connection = duckdb.connect()
        files = [str(f) for f in (root / "a" / "archive" / "decisions").rglob("*.parquet")]
        ids = [str(i) for (i,) in connection.execute(
            f"SELECT decision_id FROM read_parquet({files}) WHERE decision_id IS NOT NULL "
            "ORDER BY hash(decision_id) LIMIT 3").fetchall()]
        month = ["report", "--since", (START + timedelta(days=15)).date().isoformat(),
                 "--until", (START + timedelta(days=45)).date().isoformat(), "--json"]
        kinds = ("evidence", "decision", "report", "version")
        walls: dict[tuple[str, str], list[float]] = {(k, s): [] for k in kinds for s in "ab"}
        answers: dict[tuple[str, str], bytes] = {}
        for round_ in range(options.rounds):
            for side in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
                data = root / side
                walls["version", side].append(cli(["--version"], data)[0])
                for kind, runs in (
                        ("evidence", [["evidence", n, "--format", "json"] for n in numbers]),
                        ("decision", [["evidence", "--decision", i, "--format", "json"]
                                      for i in ids]),
                        ("report", [month])):
                    for args in runs:
                        seconds, result = cli(args, data)
                        walls[kind, side].append(seconds)
                        answers[side, " ".join(args)] = _stable(result.stdout)
        same = all(answers["a", key] == answers["b", key] for s, key in answers if s == "a")
        print(f"answers equal on both archives: {same}", flush=True)
        for kind in kinds:
            a, b = walls[kind, "a"], walls[kind, "b"]
            print(f"{kind:9} format 1 median {statistics.median(a):.3f} s "
                  f"({min(a):.3f}-{max(a):.3f}, {len(a)} runs) | format 2 median "
                  f"{statistics.median(b):.3f} s ({min(b):.3f}-{max(b):.3f}) | ratio "
                  f"{statistics.median(b) / statistics.median(a):.2f}", flush=True)
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)


def _stable(stdout: bytes) -> bytes:
    """The answer without the instant it was generated at."""
    document = orjson.loads(stdout)
    for holder in (document, document.get("query", {})):
        if isinstance(holder, dict):
            holder.pop("generated", None)
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


if __name__ == "__main__":
    main()
