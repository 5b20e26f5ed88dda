"""Number attribute lists at national scale, side by side with the do-not-call list.

Run: .venv/bin/python bench/bench_attributes.py --millions 10 --reassigned 2 --runs 2

A wireless list is published through exactly the do-not-call code path (a bitmap list
version under the reserved name ``attr-wireless``), so each figure is measured for both
names from the same generated file, alternately, ``--runs`` times: import (parse +
validate + build + fsync'd write + read-back), load (verify every chunk), lookup (the
gate's one fetch, ``list_check``, per number), then a Redis publish and a fresh node's
load with the longest loop stall. Reassigned data (dated codec: number -> last permanent
disconnect) is measured against the same numbers as a bitmap: import, load, bytes per
number and lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from redis import asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_lists import POWERS, generate, load_with_probe  # noqa: E402
from callguard.numbers import NumberParser  # noqa: E402
from callguard.stores.attributes import list_check, parse_dated_file  # noqa: E402
from callguard.stores.embedded.lists import load_version, write_version  # noqa: E402
from callguard.stores.list_files import parse_list_file  # noqa: E402
from callguard.stores.redis.lists import RedisListPublisher  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} s (min {min(values):.2f}, "
            f"max {max(values):.2f}, n={len(values)})")


def sample_numbers(path: Path, rng: np.random.Generator, count: int) -> list[int]:
    rows = np.frombuffer(path.read_bytes()[: 11 * 2_000_000], dtype=np.uint8).reshape(-1, 11)
    listed = (rows[:, :10].astype(np.int64) - 48) @ POWERS
    picks = np.concatenate([rng.choice(listed, size=count // 2),
                            rng.choice(listed, size=count // 2) + 1])
    return [int(v) for v in picks]


def lookup_us(snapshot: object, name: str, numbers: list[int]) -> float:
    parser = NumberParser(dial_prefixes=(), regions=frozenset({"US"}))
    infos = []
    for n in numbers:
        try:
            infos.append(parser.parse(str(n)))
        except Exception:  # noqa: BLE001, S112 - a +1 neighbour may be invalid: skip it
            continue
    start = time.perf_counter()
    for info in infos:
        list_check(name, snapshot, info)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / len(infos) * 1e6


def lists(millions: float, runs: int, rng: np.random.Generator, workdir: Path) -> None:
    path = workdir / f"numbers-{millions:g}M.txt"
    written = generate(int(millions * 1_000_000), path, rng)
    print(f"\n== {written:,} numbers, one file, imported as 'national' (DNC) and "
          "'attr-wireless' alternately")
    today = datetime.now(UTC).date()
    imports: dict[str, list[float]] = {"national": [], "attr-wireless": []}
    loads: dict[str, list[float]] = {"national": [], "attr-wireless": []}
    for run in range(runs):
        for name in ("national", "attr-wireless") if run % 2 == 0 else (
                "attr-wireless", "national"):
            data = workdir / f"data-{name}-{run}"
            seconds, meta = timed(lambda d=data, n=name: write_version(
                d, n, parse_list_file(path), published=today, area_codes=None,
                source=path.name))
            imports[name].append(seconds)
            seconds, _ = timed(lambda d=data, n=name, v=meta.version: load_version(d, n, v))
            loads[name].append(seconds)
    for name, values in imports.items():
        print(f"import {name:14} {spread(values)}")
    ratio = statistics.median(imports["attr-wireless"]) / statistics.median(imports["national"])
    print(f"import ratio wireless / DNC: {ratio:.2f}x")
    for name, values in loads.items():
        print(f"load   {name:14} {spread(values)}")
    numbers = sample_numbers(path, rng, 200_000)
    for name in ("national", "attr-wireless"):
        snapshot = load_version(workdir / f"data-{name}-0", name, 1)
        per = [lookup_us(snapshot, name, numbers) for _ in range(runs)]
        print(f"lookup {name:14} list_check {statistics.median(per):.3f} us/number "
              f"(min {min(per):.3f}, max {max(per):.3f}, n={runs})")
    server = RedisServer(workdir / "redis")
    server.data_dir.mkdir()
    server.start()
    try:
        parsed = parse_list_file(path)

        async def publish_and_load(name: str) -> None:
            client = aioredis.from_url(server.url)
            await client.flushall()
            start = time.perf_counter()
            await RedisListPublisher(client).publish(name, parsed, published=today,
                                                     area_codes=None, source=path.name)
            publish = time.perf_counter() - start
            await client.aclose()
            load, stall, node = await load_with_probe(server.url)
            await node._client.aclose()  # noqa: SLF001 - bench teardown
            print(f"redis  {name:14} publish {publish:.1f} s; fresh node load {load:.2f} s; "
                  f"longest loop stall {stall:.1f} ms")

        for name in ("national", "attr-wireless"):
            asyncio.run(publish_and_load(name))
    finally:
        server.stop()
    path.unlink()


def reassigned(millions: float, runs: int, rng: np.random.Generator, workdir: Path) -> None:
    path = workdir / "numbers-reassigned.txt"
    written = generate(int(millions * 1_000_000), path, rng)
    rows = np.frombuffer(path.read_bytes(), dtype=np.uint8).reshape(-1, 11)
    days = rng.integers(18_600, 20_800, size=len(rows))  # 2020..2026
    dated = workdir / "reassigned.csv"
    with dated.open("w") as out:
        for row, day in zip(rows, days, strict=True):
            out.write(f"{row[:10].tobytes().decode()},"
                      f"{np.datetime64(int(day), 'D')}\n")
    print(f"\n== reassigned data: {written:,} numbers with a disconnect date, beside the same "
          "numbers as a bitmap list")
    today = datetime.now(UTC).date()
    times: dict[str, list[float]] = {"dated": [], "bitmap": []}
    for run in range(runs):
        data = workdir / f"re-{run}"
        seconds, _ = timed(lambda d=data: write_version(
            d, "attr-reassigned", parse_dated_file(dated), published=today,
            area_codes=None, source=dated.name))
        times["dated"].append(seconds)
        seconds, _ = timed(lambda d=data: write_version(
            d, "plain", parse_list_file(path), published=today, area_codes=None,
            source=path.name))
        times["bitmap"].append(seconds)
    for name, values in times.items():
        print(f"import {name:7} {spread(values)}")
    data = workdir / "re-0"
    for name, suffix in (("attr-reassigned", "dated"), ("plain", "roar")):
        size = sum(p.stat().st_size for p in (data / "lists" / name / "v1").glob(f"*.{suffix}"))
        seconds, snapshot = timed(lambda n=name: load_version(data, n, 1))
        per = lookup_us(snapshot, name, sample_numbers(path, rng, 200_000))
        print(f"{name:16} {size / written:.2f} bytes/number on disk; load {seconds:.2f} s; "
              f"list_check {per:.3f} us/number")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--millions", type=float, default=10)
    parser.add_argument("--reassigned", type=float, default=2)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="callguard-bench-attr-"))
    rng = np.random.default_rng(18)
    lists(args.millions, args.runs, rng, workdir)
    reassigned(args.reassigned, args.runs, rng, workdir)
    print(f"\n(workdir {workdir}; remove it when done)")


if __name__ == "__main__":
    main()
