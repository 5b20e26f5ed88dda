"""Where the archive's bytes go, and what other layouts of the same rows would cost.

Run: .venv/bin/python bench/bench_evidence.py --sizes 1000000 --keep --dir DIR
     .venv/bin/python bench/bench_archive_layout.py DIR/n1000000

Reads the compacted decision days of an archive and rewrites each day, one file per day as
compaction does, under other layouts: the zstd level (default 3, 9, 15, 19), then a
number table (each distinct number hash stored once in a side file, a small integer id
in each row, rows sorted by id then instant), then that plus the decision id's random
part alone (its 48-bit millisecond equals ``at``'s in every row checked). Prints bytes per
decision in all, per column (DuckDB ``parquet_metadata()``, total_compressed_size), and
the seconds each layout took to write. An experiment on layouts: the archive's code does
not read these files. It needs days with the hash in each row (archive format 1, before
the number table was built); days of the current layout are refused.
"""

# ruff: noqa: S608 - SQL text is made of the archive's own paths and names; no user input.
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import duckdb


def main() -> None:
    root = Path(sys.argv[1]) / "archive"
    days = sorted(str(p) for p in (root / "decisions").glob("day=*/*.parquet"))
    events = sum(p.stat().st_size for p in (root / "events").glob("day=*/*.parquet"))
    connection = duckdb.connect(config={"threads": 1})
    connection.execute("SET TimeZone = 'UTC'")
    columns = {c for (c,) in connection.execute(
        f"SELECT name FROM parquet_schema({days})").fetchall()}
    if "number_hash" not in columns:
        raise SystemExit("these days hold number ids (the number table's layout): this "
                         "experiment compares layouts of days holding the hash in each row")
    rows = connection.execute(f"SELECT count(*) FROM read_parquet({days})").fetchone()[0]
    same, checked = connection.execute(
        "SELECT count(*) FILTER (WHERE substr(replace(CAST(decision_id AS VARCHAR), '-', ''), "
        "1, 12) = printf('%012x', epoch_ms(\"at\"))), count(decision_id) "
        f"FROM read_parquet({days})").fetchone()
    print(f"{rows:,} decisions in {len(days)} days; events {events / rows:.2f} B/decision; "
          f"decision id millisecond = at: {same:,} of {checked:,}")
    connection.execute(
        "CREATE TABLE numbers AS SELECT CAST(row_number() OVER (ORDER BY min(\"at\"), "
        "number_hash) AS INTEGER) AS number_id, number_hash "
        f"FROM read_parquet({days}) WHERE number_hash IS NOT NULL GROUP BY number_hash")
    out = Path(tempfile.mkdtemp(prefix="callguard-layout-"))
    side = out / "numbers.parquet"
    connection.execute(f"COPY (SELECT * FROM numbers ORDER BY number_id) TO '{side}' "
                       "(FORMAT parquet, PARQUET_VERSION V2, COMPRESSION zstd, "
                       "COMPRESSION_LEVEL 15)")
    table_bytes = side.stat().st_size
    current = "SELECT * FROM read_parquet('{f}') ORDER BY number_hash, \"at\""
    ids = ("SELECT d.* EXCLUDE (number_hash), n.number_id FROM read_parquet('{f}') d "
           "LEFT JOIN numbers n USING (number_hash) ORDER BY n.number_id, d.\"at\"")
    split = ("SELECT d.* EXCLUDE (number_hash, decision_id), n.number_id, "
             "unhex(substr(replace(CAST(decision_id AS VARCHAR), '-', ''), 13)) AS id_random "
             "FROM read_parquet('{f}') d LEFT JOIN numbers n USING (number_hash) "
             "ORDER BY n.number_id, d.\"at\"")
    layouts = [(f"hash in each row, zstd {level}", current, level, 0)
               for level in (3, 9, 15, 19)]
    layouts += [("number table, zstd 15", ids, 15, table_bytes),
                ("number table + id random part, zstd 15", split, 15, table_bytes)]
    for label, select, level, extra in layouts:
        total, columns = 0, {}
        started = time.perf_counter()
        for day in days:
            target = out / "day.parquet"
            connection.execute(
                f"COPY ({select.format(f=day)}) TO '{target}' (FORMAT parquet, "
                f"PARQUET_VERSION V2, ROW_GROUP_SIZE 16384, COMPRESSION zstd, "
                f"COMPRESSION_LEVEL {level})")
            total += target.stat().st_size
            for name, size in connection.execute(
                    "SELECT path_in_schema, sum(total_compressed_size) "
                    f"FROM parquet_metadata('{target}') GROUP BY 1").fetchall():
                columns[name] = columns.get(name, 0) + size
        seconds = time.perf_counter() - started
        top = sorted(columns.items(), key=lambda kv: -kv[1])[:6]
        print(f"{label:40} {(total + extra + events) / rows:6.2f} B/decision (decisions "
              f"{total / rows:.2f} + number table {extra / rows:.2f} + events "
              f"{events / rows:.2f}; written in {seconds:.1f} s) | "
              + " ".join(f"{n}={s / rows:.2f}" for n, s in top), flush=True)
    for path in out.iterdir():
        path.unlink()
    out.rmdir()


if __name__ == "__main__":
    main()
