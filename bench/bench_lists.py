"""Do-not-call lists at national scale: import, Redis load, memory, lookup, loop stall.

Run: .venv/bin/python bench/bench_lists.py --sizes 10,50   (millions of listed numbers)

The generator lists 5-60 % of each of a random set of valid US exchanges (NPA-NXX,
validated by phonenumbers through callguard's NANP table) and writes a sorted plain
10-digit file. Each figure stands beside its baseline from the same run:
- import: parse + validate + build + write + publish (embedded, fsync'd) vs numpy parse +
  bitmap build of the same file without validation or writing;
- Redis: publish, then a fresh node's full load, with a loop-lag probe (a task sleeping
  1 ms and recording how late it wakes) to find the longest event-loop stall;
- lookup: snapshot.contains over 1 M numbers vs a bare Python loop over the same numbers.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gzip
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pyroaring import BitMap
from redis import asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callguard.numbers import NanpTable  # noqa: E402
from callguard.resources import demo_list  # noqa: E402
from callguard.stores.embedded.lists import write_version  # noqa: E402
from callguard.stores.list_files import ParsedList, parse_list_file  # noqa: E402
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

POWERS = 10 ** np.arange(9, -1, -1, dtype=np.int64)


def us_exchanges(rng: np.random.Generator, wanted: int) -> np.ndarray:
    """Distinct valid US NPA-NXX keys (NPA*1000+NXX)."""
    table = NanpTable()
    npas = [npa for npa in range(201, 990)
            if table.lookup(npa * 10_000_000 + 5_550_000).region == "US"]
    found: set[int] = set()
    while len(found) < wanted:
        npa = int(rng.choice(npas))
        nxx = int(rng.integers(200, 1000))
        key = npa * 1000 + nxx
        if key not in found and table.lookup(key * 10_000).region == "US":
            found.add(key)
    return np.array(sorted(found), dtype=np.int64)


def generate(count: int, path: Path, rng: np.random.Generator) -> int:
    """Write about ``count`` sorted numbers, 5-60 % of each chosen exchange listed."""
    exchanges = us_exchanges(rng, int(count / (0.325 * 10_000)) + 1)
    written = 0
    with path.open("wb") as out:
        for key in exchanges:
            if written >= count:
                break
            k = min(int(rng.uniform(0.05, 0.60) * 10_000), count - written)
            lines = np.sort(rng.choice(10_000, size=k, replace=False)).astype(np.int64)
            values = key * 10_000 + lines
            rows = np.empty((len(values), 11), dtype=np.uint8)
            rows[:, :10] = (values[:, None] // POWERS % 10 + 48).astype(np.uint8)
            rows[:, 10] = 10
            out.write(rows.tobytes())
            written += k
    return written


def baseline_numpy(path: Path) -> int:
    """numpy parse + per-area bitmap build, no validation, nothing written."""
    total = 0
    rows = np.fromfile(path, dtype=np.uint8).reshape(-1, 11)
    for start in range(0, len(rows), 4_000_000):
        values = (rows[start:start + 4_000_000, :10].astype(np.int64) - 48) @ POWERS
        areas = values // 10_000_000
        for chunk in np.split(values, np.flatnonzero(np.diff(areas)) + 1):
            numbers = array.array("I")
            numbers.frombytes((chunk % 10_000_000).astype(np.uint32).tobytes())
            total += len(BitMap(numbers))
    return total


async def load_with_probe(url: str) -> tuple[float, float, RedisListRegistry]:
    """A fresh node's full load, and the longest loop stall seen meanwhile."""
    stalls: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - before - 0.001)

    task = asyncio.ensure_future(probe())
    await asyncio.sleep(0.01)
    node = RedisListRegistry(aioredis.from_url(url))
    started = time.perf_counter()
    await node.sync()
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return elapsed, max(stalls) * 1000, node


def lookups(snapshot, rng: np.random.Generator, values: np.ndarray) -> tuple[float, float]:
    listed = rng.choice(values, size=500_000)
    random = rng.integers(2_000_000_000, 9_999_999_999, size=500_000)
    numbers = [int(v) for v in np.concatenate([listed, random])]
    start = time.perf_counter()
    for _n in numbers:
        pass
    bare = time.perf_counter() - start
    contains = snapshot.contains
    start = time.perf_counter()
    for n in numbers:
        contains(n)
    return (time.perf_counter() - start) / len(numbers) * 1e6, bare / len(numbers) * 1e6


def scrub_rate(data_dir: Path, values: np.ndarray, rng: np.random.Generator) -> float:
    """`callguard scrub` of 20,000 leads through the full gate (subprocess, wall time)."""
    leads = data_dir / "leads.csv"
    picks = rng.choice(values, size=20_000)
    leads.write_text("phone\n" + "\n".join(str(int(v)) for v in picks) + "\n")
    env = {**os.environ, "CALLGUARD_DATA_DIR": str(data_dir)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "callguard", "scrub", str(leads), "--campaign",
                    "ut-solar-manual", "--at", "2026-11-25T11:00:00-07:00", "--output",
                    str(data_dir / "out.csv")], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    return 20_000 / (time.perf_counter() - start)


def run_size(millions: float, rng: np.random.Generator, workdir: Path) -> None:
    count = int(millions * 1_000_000)
    path = workdir / f"national-{millions:g}M.txt"
    started = time.perf_counter()
    written = generate(count, path, rng)
    print(f"\n== {written:,} numbers ({path.stat().st_size / 1e9:.2f} GB file, generated in "
          f"{time.perf_counter() - started:.0f} s)")
    start = time.perf_counter()
    base_count = baseline_numpy(path)
    base = time.perf_counter() - start
    data_dir = workdir / f"data-{millions:g}"
    start = time.perf_counter()
    parsed = parse_list_file(path)
    today = datetime.now(UTC).date()
    meta = write_version(data_dir, "national", parsed, published=today, area_codes=None,
                         source=path.name)
    imported = time.perf_counter() - start
    assert meta.count == base_count == written, (meta.count, base_count, written)
    chunk_bytes = sum(p.stat().st_size for p in (data_dir / "lists" / "national" / "v1"
                                                 ).glob("*.roar"))
    print(f"import -> published version: {imported:6.1f} s  baseline numpy+bitmap "
          f"{base:6.1f} s  ratio {imported / base:.2f}x  ({written / imported / 1e6:.1f} M "
          "numbers/s)")
    print(f"memory: {chunk_bytes / written:.3f} bytes per listed number (serialized chunks)")
    server = RedisServer(workdir / f"redis-{millions:g}")
    server.data_dir.mkdir()
    server.start()
    try:
        async def publish_and_load(parsed: ParsedList) -> None:
            client = aioredis.from_url(server.url)
            start = time.perf_counter()
            await RedisListPublisher(client).publish("national", parsed, published=today,
                                                     area_codes=None, source=path.name)
            publish = time.perf_counter() - start
            await client.aclose()
            load, stall, node = await load_with_probe(server.url)
            snapshot = node.snapshot("national")
            per, bare = lookups(snapshot, rng, np.frombuffer(
                path.read_bytes()[: 11 * 2_000_000], dtype=np.uint8).reshape(-1, 11)[:, :10]
                .astype(np.int64).__sub__(48).__matmul__(POWERS))
            print(f"redis: publish {publish:.1f} s; node load {load:.2f} s; longest loop "
                  f"stall during load {stall:.1f} ms")
            print(f"lookup: {per:.3f} us per contains() vs bare loop {bare:.3f} us "
                  f"({per / bare:.1f}x)")

        asyncio.run(publish_and_load(parsed))
    finally:
        server.stop()
    del parsed
    for name in ("ut-state",):
        write_version(data_dir, name, parse_list_file(demo_list("ut-state"),
                                                      max_bad_share=0.5),
                      published=today, area_codes=None, source="demo")
    values = np.frombuffer(path.read_bytes()[: 11 * 100_000], dtype=np.uint8).reshape(
        -1, 11)[:, :10].astype(np.int64) - 48
    print(f"scrub: {scrub_rate(data_dir, values @ POWERS, rng):,.0f} rows/s (20,000 rows, "
          "full gate, subprocess wall time)")
    path.unlink()


def other_forms(rng: np.random.Generator, workdir: Path, count: int = 2_000_000) -> None:
    """Parse rate of each form a call center receives, same numbers, same run."""
    path = workdir / "forms-plain.txt"
    generate(count, path, rng)
    plain = path.read_text().splitlines()
    forms = {
        "plain 10 digits (numpy fast path)": "\n".join(plain),
        "1 + 10 digits": "\n".join("1" + n for n in plain),
        "E.164 with punctuation": "\n".join(f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}" for n in plain),
        "registry 'area code,phone number'": "\n".join(f"{n[:3]},{n[3:]}" for n in plain),
    }
    print(f"\n== file forms, {len(plain):,} numbers each: parse to per-area arrays")
    for label, text in forms.items():
        target = workdir / "form.txt"
        target.write_text(text + "\n")
        start = time.perf_counter()
        parsed = parse_list_file(target)
        elapsed = time.perf_counter() - start
        print(f"{label:40} {parsed.count / elapsed / 1e6:6.2f} M numbers/s")
    gz = workdir / "form.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
    start = time.perf_counter()
    parsed = parse_list_file(gz)
    rate = parsed.count / (time.perf_counter() - start) / 1e6
    print(f"{'plain, gzip (line parser)':40} {rate:6.2f} M numbers/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10", help="comma list of millions, e.g. 10,50,250")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--forms", action="store_true", help="also measure other file forms")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="callguard-bench-lists-"))
    rng = np.random.default_rng(11)
    for size in args.sizes.split(","):
        run_size(float(size), rng, workdir)
    if args.forms:
        other_forms(rng, workdir)


if __name__ == "__main__":
    main()
