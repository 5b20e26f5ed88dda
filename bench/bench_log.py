"""What the compliance record costs, side by side in one run: its encoder, each durability
policy (throughput and added p99 latency), the Redis Stream, and the record stores.

Run: .venv/bin/python bench/bench_log.py [--decisions N] [--rate R] [--seconds S] [--runs K]

Starts a real redis-server (Debian's, AOF with appendfsync always, as shipped) on a free
port. Every figure stands beside its baseline measured in the same process, runs
interleaved ``--runs`` times (median, and min-max):

- the encoder: µs per decision record, the direct orjson encoder callguard uses beside a
  ``structlog.wrap_logger`` chain of its own (same fields, TimeStamper, JSONRenderer with
  orjson) — the two ways docs/STYLE.md names;
- the gate (Utah manual campaign, FastAGI-style requests with a Linkedid, 10 % of the
  numbers listed) with no record, and with the record to a real file under ``none``,
  ``group`` and ``every``: decisions/s with 16 in flight (closed loop) and CPU µs per
  decision (the writer thread included); p50/p99 of the answer's latency at ``--rate``
  calls/s (open loop: call i starts at t0 + i/rate) and the p99 the record adds;
- the file + Redis Stream (the queue drained before the clock stops);
- bytes per record on disk, per day at 10 and 100 calls/s, and the Redis memory of the
  stream per entry (``MEMORY USAGE``) and at the default cap;
- record reads: µs per company-DNC / consent read, SQLite vs Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import structlog
from redis import asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_gate import AREAS, make_numbers
from callguard.config import Settings, load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.records import RecordsSettings
from tests.redis_server import RedisServer

IN_FLIGHT = 16


class FullCollections:
    """Counts generation-2 garbage collections and their pause while a row is timed.

    Measured (this bench on the loop-append writer, durability none): one full collection
    of the runtime's heap (phonenumbers metadata, packs, lists: 45-110 ms on this machine)
    fell, by the allocation count alone, at the start of the ``none`` latency row in every
    run and stalled the first 20-50 calls: +20 ms of p99 that was not the write path. Each
    timed row therefore starts from a collected heap (``gc.collect()``), and any full
    collection that still falls inside it is counted and printed beside the figures.
    """

    def __init__(self) -> None:
        self.count = 0
        self.pause_s = 0.0
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] < 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count += 1
            self.pause_s += time.perf_counter() - self._began

    def __enter__(self) -> FullCollections:
        gc.collect()
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)


FULL_GCS: dict[str, list[str]] = {}


async def _no_record(_decision) -> None:
    return None


async def _throughput(settings, requests, *, record: bool) -> tuple[float, float, int]:
    """Closed loop, IN_FLIGHT at once: (decisions/s, CPU µs/decision, bytes written)."""
    runtime = open_runtime(settings)
    await runtime.start()
    gate = runtime.gate
    if not record:
        gate._record = _no_record  # noqa: SLF001
    for request in requests[:1000]:
        await gate.check(request)
    path = settings.data_dir / "compliance.jsonl"
    before = path.stat().st_size if path.exists() else 0
    pending = iter(requests)

    async def worker() -> None:
        for request in pending:
            await gate.check(request)

    with FullCollections() as full:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        if runtime.stream is not None:
            while runtime.stream._queue:  # noqa: SLF001 - count until the stream is drained
                await asyncio.sleep(0.001)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    _note_full(settings, record, "throughput", full)
    await runtime.aclose()
    written = (path.stat().st_size if path.exists() else 0) - before
    return len(requests) / wall, cpu / len(requests) * 1e6, written


def _note_full(settings: Settings, record: bool, row: str, full: FullCollections) -> None:
    if full.count:
        policy = settings.log.durability if record else "no record"
        FULL_GCS.setdefault(policy, []).append(
            f"{row}: {full.count} ({full.pause_s * 1000:.0f} ms)")


async def _latency(settings, requests, *, record: bool, rate: float) -> tuple[float, float]:
    """Open loop at ``rate``/s: (p50, p99) ms from each call's scheduled start to its answer."""
    runtime = open_runtime(settings)
    gate = runtime.gate
    if not record:
        gate._record = _no_record  # noqa: SLF001
    for request in requests[:500]:
        await gate.check(request)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    start = 0.0

    async def one(i: int, request: CheckRequest) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        await gate.check(request)
        latencies.append(loop.time() - due)

    with FullCollections() as full:
        start = loop.time() + 0.05  # after the collection: every call is paced from here
        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    _note_full(settings, record, "latency", full)
    await runtime.aclose()
    latencies.sort()
    return (latencies[len(latencies) // 2] * 1000,
            latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000)


def _encoders(settings, requests) -> tuple[float, float, int]:
    """µs per record: direct encoder vs a structlog.wrap_logger chain of the same fields."""
    runtime = open_runtime(settings)
    decisions = []

    async def keep(decision) -> None:
        decisions.append(decision)

    runtime.gate._record = keep  # noqa: SLF001

    async def decide() -> None:
        for request in requests[:2000]:
            await runtime.gate.check(request)
        await runtime.aclose()

    asyncio.run(decide())
    encoder = runtime.compliance.encoder
    out: list[bytes] = []

    class Sink:
        def msg(self, message: bytes) -> None:
            out.append(message)

        info = msg

    def fields(_logger, _name, event_dict):
        fields_ = encoder.decision_fields(event_dict.pop("decision"))
        del fields_["logged_at"]  # the chain's TimeStamper adds it
        event_dict.update(fields_)
        return event_dict

    chain = structlog.wrap_logger(Sink(), processors=[
        fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="logged_at"),
        structlog.processors.JSONRenderer(serializer=orjson.dumps)])

    def direct() -> None:
        for decision in decisions:
            out.append(encoder.decision(decision))

    def via_structlog() -> None:
        for decision in decisions:
            chain.info("decision", decision=decision)

    count = len(decisions)
    best_direct = min(timeit.repeat(direct, number=1, repeat=7)) / count * 1e6
    best_chain = min(timeit.repeat(via_structlog, number=1, repeat=7)) / count * 1e6
    allow = next(d for d in decisions if d.allowed)
    return best_direct, best_chain, len(encoder.decision(allow)) - 1


async def _stream_memory(url: str, record: bytes, count: int) -> float:
    """Bytes of Redis memory per stream entry holding ``record`` (MEMORY USAGE)."""
    client = aioredis.from_url(url)
    await client.delete("bench:memory")
    for first in range(0, count, 1000):
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(min(1000, count - first)):
                pipe.xadd("bench:memory", {"r": record})
            await pipe.execute()
    used = await client.memory_usage("bench:memory", samples=0)
    await client.delete("bench:memory")
    await client.aclose()
    return float(used or 0) / count


async def _read_cost(records, numbers: list[str], solicitor: str) -> tuple[float, float]:
    start = time.perf_counter()
    for number in numbers:
        await records.company_dnc(solicitor, number)
    dnc = (time.perf_counter() - start) / len(numbers) * 1e6
    start = time.perf_counter()
    for number in numbers:
        await records.consents(solicitor, number)
    return dnc, (time.perf_counter() - start) / len(numbers) * 1e6


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stream-entries", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    numbers = make_numbers(args.decisions, rng)
    root = Path(tempfile.mkdtemp(prefix="callguard-bench-log-"))
    listed = ParsedList()
    for number in numbers[::10]:
        value = int(number)
        listed.by_area.setdefault(value // 10_000_000, []).append(value % 10_000_000)
    for area in AREAS:
        listed.by_area.setdefault(area, []).extend(rng.sample(range(2_000_000, 9_999_999),
                                                              10_000))
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
        base = replace(base, redis_url=server.url, log=replace(base.log, node="dialer-01"))
        day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
        at = datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver"))
        requests = [CheckRequest(n, "ut-solar-manual", at=at, front="fastagi",
                                 linkedid=f"1764093600.{i}") for i, n in enumerate(numbers)]
        paced = requests[:int(args.rate * args.seconds)]
        policies = (None, "none", "group", "every")
        rates: dict[str | None, list[float]] = {p: [] for p in policies}
        cpus: dict[str | None, list[float]] = {p: [] for p in policies}
        p50s: dict[str | None, list[float]] = {p: [] for p in policies}
        p99s: dict[str | None, list[float]] = {p: [] for p in policies}
        streamed: list[float] = []
        size = 0
        for _ in range(args.runs):
            for policy in policies:
                settings = replace(base, log=replace(base.log, durability=policy or "none"))
                rate, cpu, written = asyncio.run(_throughput(settings, requests,
                                                             record=policy is not None))
                rates[policy].append(rate)
                cpus[policy].append(cpu)
                if policy is not None:
                    size = written
                p50, p99 = asyncio.run(_latency(settings, paced, record=policy is not None,
                                                rate=args.rate))
                p50s[policy].append(p50)
                p99s[policy].append(p99)
            with_stream = replace(base, log=replace(base.log, durability="group",
                                                    redis_stream=True))
            streamed.append(asyncio.run(_throughput(with_stream, requests, record=True))[0])
        direct, chain, allow_bytes = _encoders(base, requests)

        print(f"{args.decisions} decisions per throughput row ({IN_FLIGHT} in flight), "
              f"{len(paced)} at {args.rate:.0f}/s per latency row; {args.runs} interleaved "
              "runs: median (min-max); 2-core shared machine\n")
        print(f"encoder, µs per record (best of 7): direct orjson {direct:.1f}; "
              f"structlog.wrap_logger chain {chain:.1f} ({chain / direct:.2f}x)")
        print(f"typical ALLOW record: {allow_bytes} bytes; this mix (10 % BLOCK) "
              f"{size / len(requests):.0f} bytes per decision\n")
        print(f"{'record':16} {'decisions/s':>12} {'x no record':>18} {'CPU µs':>7} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'p99 added ms':>13}")
        plain = rates[None]
        for policy in policies:
            ratios = [r / b for r, b in zip(rates[policy], plain, strict=True)]
            added = [a - b for a, b in zip(p99s[policy], p99s[None], strict=True)]
            print(f"{policy or 'no record':16} {statistics.median(rates[policy]):12,.0f} "
                  f"{_spread(ratios):>18} {statistics.median(cpus[policy]):7.1f} "
                  f"{statistics.median(p50s[policy]):7.2f} "
                  f"{statistics.median(p99s[policy]):7.2f} "
                  f"{'' if policy is None else _spread(added):>13}")
        for policy, notes in FULL_GCS.items():
            print(f"  full garbage collections inside timed rows, {policy}: {'; '.join(notes)}")
        ratios = [r / b for r, b in zip(streamed, plain, strict=True)]
        print(f"{'group + stream':16} {statistics.median(streamed):12,.0f} "
              f"{_spread(ratios):>18}")
        per_decision = size / len(requests)
        print(f"\nsizing: {per_decision:.0f} B/decision -> {per_decision * 10 * 86400 / 1e9:.2f}"
              f" GB/day at 10 calls/s, {per_decision * 100 * 86400 / 1e9:.2f} GB/day at 100 "
              f"calls/s; five years at 100/s: {per_decision * 100 * 86400 * 1830 / 1e12:.1f} TB")
        sample = b'{"schema":1,"event":"decision",' + b"x" * (allow_bytes - 31)
        memory = asyncio.run(_stream_memory(server.url, sample, args.stream_entries))
        print(f"Redis Stream: {memory:.0f} bytes of memory per entry (MEMORY USAGE, "
              f"{args.stream_entries} entries of {allow_bytes} B); at stream_maxlen "
              f"{base.log.stream_maxlen:,}: {memory * base.log.stream_maxlen / 1e9:.2f} GB")

        async def reads() -> None:
            e164 = [f"+1{n}" for n in numbers[:5000]]
            on_redis = replace(base, records=RecordsSettings(backend="redis"))
            for label, settings in (("SQLite", base), ("Redis", on_redis)):
                runtime = open_runtime(settings)
                await runtime.start()
                dnc, consent = await _read_cost(runtime.records, e164, "beehive-solar")
                await runtime.aclose()
                print(f"record read, {label:<6}: company-DNC {dnc:6.1f} µs, "
                      f"consents {consent:6.1f} µs")

        asyncio.run(reads())
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
