"""What the compliance log and the record stores cost, side by side in one run.

Run: .venv/bin/python bench/bench_log.py [--decisions N] [--records N]

Starts a real redis-server (Debian's, AOF with appendfsync always, as shipped) on a free
port. Figures:

- the gate (Utah manual campaign, ALLOW path, company-DNC read) with no log, with the
  log to a file, and with the log to a file plus the Redis Stream (the stream's queue
  drained before the clock stops): the µs per decision each sink adds;
- the same gate with records in Redis instead of SQLite (one HGET per decision);
- the Redis Stream sink alone: pre-rendered records/s from write() to XADDed;
- record reads: µs per company-DNC / consent read, SQLite vs Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_gate import AREAS, make_numbers
from callguard.compliance.sinks import RedisStreamSink
from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.records import RecordsSettings
from tests.redis_server import RedisServer


async def _gate_rate(settings, requests, *, no_log: bool = False) -> float:
    runtime = open_runtime(settings)
    await runtime.start()
    gate = runtime.gate
    for request in requests[:2000]:  # warm the NPA-NXX memo and calendars
        await gate.check(request)
    if no_log:
        gate._record = lambda _d: None  # noqa: SLF001
    start = time.perf_counter()
    for request in requests:
        await gate.check(request)
    if runtime.stream is not None:
        while runtime.stream._queue:  # noqa: SLF001 - count the stream until it is drained
            await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - start
    await runtime.aclose()
    return len(requests) / elapsed


async def _stream_rate(url: str, count: int) -> float:
    sink = RedisStreamSink(aioredis.from_url(url), key="bench:stream", maxlen=1_000_000)
    record = b'{"event":"decision","verdict":"ALLOW","pad":"' + b"x" * 3000 + b'"}'
    sink.start()
    start = time.perf_counter()
    for i in range(count):
        sink.write(record)
        if i % 512 == 0:
            await asyncio.sleep(0)  # a node's loop yields between calls
    while sink._queue:  # noqa: SLF001
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - start
    await sink.aclose()
    return count / elapsed


async def _read_cost(records, numbers: list[str], solicitor: str) -> tuple[float, float]:
    start = time.perf_counter()
    for number in numbers:
        await records.company_dnc(solicitor, number)
    dnc = (time.perf_counter() - start) / len(numbers) * 1e6
    start = time.perf_counter()
    for number in numbers:
        await records.consents(solicitor, number)
    return dnc, (time.perf_counter() - start) / len(numbers) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    numbers = make_numbers(args.decisions, rng)
    root = Path(tempfile.mkdtemp(prefix="callguard-bench-log-"))
    listed = ParsedList()
    for area in AREAS:
        listed.by_area[area] = rng.sample(range(2_000_000, 9_999_999), 10_000)
    today = datetime.now(UTC).date()
    for name in ("national", "ut-state"):
        write_version(root / "data", name, listed, published=today, area_codes=None,
                      source="bench")
    server = RedisServer(root / "redis")
    server.data_dir.mkdir()
    server.start()
    os.environ.setdefault("CALLGUARD_LOG_KEY", "00" * 32)
    try:
        base = load_settings(data_dir=root / "data")
        base = replace(base, redis_url=server.url)
        day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
        at = datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver"))
        requests = [CheckRequest(n, "ut-solar-manual", at=at) for n in numbers]
        streamed = replace(base, log=replace(base.log, redis_stream=True))
        on_redis = replace(base, records=RecordsSettings(backend="redis"))
        rows = [
            ("gate, no log (SQLite records)", asyncio.run(_gate_rate(base, requests,
                                                                      no_log=True))),
            ("gate, log to file", asyncio.run(_gate_rate(base, requests))),
            ("gate, log to file + Redis Stream", asyncio.run(_gate_rate(streamed, requests))),
            ("gate, no log, records in Redis", asyncio.run(_gate_rate(on_redis, requests,
                                                                       no_log=True))),
        ]
        baseline = rows[0][1]
        print(f"{args.decisions} decisions per row (2-core shared machine; one run)")
        for label, rate in rows:
            added = 1e6 / rate - 1e6 / baseline
            print(f"  {label:<36} {rate:>9,.0f}/s  {1e6 / rate:7.1f} µs  "
                  f"{rate / baseline:5.2f}x  (+{added:5.1f} µs vs no log)")
        rate = asyncio.run(_stream_rate(server.url, args.records))
        print(f"  Redis Stream sink alone: {rate:,.0f} records/s (3 KB records, "
              f"batches of 512, MAXLEN ~1M)")

        async def reads() -> None:
            e164 = [f"+1{n}" for n in numbers[:5000]]
            for label, settings in (("SQLite", base), ("Redis", on_redis)):
                runtime = open_runtime(settings)
                await runtime.start()
                dnc, consent = await _read_cost(runtime.records, e164, "beehive-solar")
                await runtime.aclose()
                print(f"  record read, {label:<6}: company-DNC {dnc:6.1f} µs, "
                      f"consents {consent:6.1f} µs")

        asyncio.run(reads())
    finally:
        server.stop()


if __name__ == "__main__":
    main()
