"""Decisions per second per core through the gate (embedded store), with and without the
compliance record, beside baselines — all in one process, runs interleaved.

Run: .venv/bin/python bench/bench_gate.py [--decisions N] [--runs R] [--concurrency C]

All figures come from one process in one run, so they are comparable on a noisy,
shared 2-core machine: quote ratios, not absolute numbers. Each configuration is measured
``--runs`` times, interleaved; the table shows the median and the min-max of the ratios.

- baseline ``phonenumbers``: parse + is_valid_number + time zones of each number.
- ``gate, no record``: parse, plan, list lookups, company-DNC lookup (from memory, kept
  exact with SQLite, as serve does), policy — the record hook replaced by a no-op.
- ``gate + record (none|group|every)``: the same plus the compliance record, encoded and
  written by the writer thread to a real file with that durability policy; each answer
  waits for its record.
- one at a time (the caller awaits each decision before the next: every record pays a
  full hand-over to the writer thread and back) and ``C`` in flight (a loaded node: records
  arriving together share one write, and with ``group`` one fdatasync).
- CPU µs/decision: process CPU time (the writer thread included) per decision.
- ``record written on the loop (none)*``: NOT how callguard writes — the same encoder and
  file, written on the event loop; the difference to ``gate + record (none)`` is what the
  hand-over to the writer thread (and back) costs.
- ``policy only``: plan + decide on pre-parsed attempts with pre-gathered facts.
- ``where the time goes``: per decision, the event loop's thread CPU, the writer thread's,
  the other threads' (the default executor: the caps' counts after the answer), the
  loop's idle time (wall minus its CPU: under ``group`` it waits for the fdatasync), and
  the fdatasyncs (counted in the process) with the lines each covered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

# This checkout's code, not whichever one the venv was installed from (an A/B of two
# checkouts with one venv would otherwise compare the same code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callguard.compliance.sinks import rotated_files
from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy import CallAttempt, FactKind, Facts, ListCheck
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.list_files import ParsedList

AREAS = (801, 385, 435, 212, 415, 303, 702, 602)


def make_numbers(count: int, rng: random.Random) -> list[str]:
    """Random numbers in real exchanges of a few area codes, some listed."""
    return [f"{rng.choice(AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            for _ in range(count)]


def timed(label: str, count: int, func) -> tuple[str, float]:
    start = time.perf_counter()
    func()
    elapsed = time.perf_counter() - start
    return label, count / elapsed


async def _no_record(_decision) -> None:
    return None


_FDATASYNCS = [0]


def _count_fdatasyncs() -> None:
    """Count every fdatasync of this process (the record writer's: nothing else syncs)."""
    real = os.fdatasync

    def counted(fd: int) -> None:
        _FDATASYNCS[0] += 1
        real(fd)

    os.fdatasync = counted


async def gate_rate(settings, requests, *, record: bool, concurrency: int,
                    inline: bool = False) -> tuple[float, float, int, dict[str, float]]:
    """(decisions/s, CPU µs per decision, bytes written, where the time goes) for one
    configuration."""
    runtime = open_runtime(settings)
    if isinstance(runtime.records, EmbeddedRecords):
        runtime.records.keep_dnc_set()  # as serve does at start
    gate = runtime.gate
    if not record:
        gate._record = _no_record  # noqa: SLF001 - measure the gate without its record
    elif inline:  # NOT how callguard writes: the same encoder and file, on the event loop
        encoder, target = runtime.compliance.encoder, runtime.compliance.writer.target

        async def on_the_loop(decision) -> None:
            target.commit(encoder.decision(decision), sync=False)

        gate._record = on_the_loop  # noqa: SLF001
    for request in requests[:2000]:  # warm the NPA-NXX memo and calendars
        await gate.check(request)
    path = settings.data_dir / "compliance.jsonl"
    size_before = _log_bytes(path)
    thread = runtime.compliance.writer._thread  # noqa: SLF001 - started by the warm-up
    clock = time.pthread_getcpuclockid(thread.ident) if thread and thread.ident else None
    writer = time.clock_gettime(clock) if clock is not None else 0.0
    syncs, loop_cpu = _FDATASYNCS[0], time.thread_time()
    cpu, wall = time.process_time(), time.perf_counter()
    if concurrency == 1:
        for request in requests:
            await gate.check(request)
    else:
        pending = iter(requests)

        async def worker() -> None:
            for request in pending:
                await gate.check(request)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    loop_cpu = time.thread_time() - loop_cpu
    writer = time.clock_gettime(clock) - writer if clock is not None else 0.0
    syncs = _FDATASYNCS[0] - syncs
    per = 1e6 / len(requests)
    parts = {"loop": loop_cpu * per, "writer": writer * per,
             "others": (cpu - loop_cpu - writer) * per, "idle": (wall - loop_cpu) * per,
             "fdatasyncs": syncs / len(requests),
             "lines": len(requests) / syncs if syncs else 0.0}
    await runtime.aclose()
    written = _log_bytes(path) - size_before
    return len(requests) / wall, cpu / len(requests) * 1e6, written, parts


def _log_bytes(path: Path) -> int:
    """Bytes of the log and its rotated segments: the runs share one data dir, and
    rotate_mb is reached within a few runs (a rotation mid-run read as negative bytes)."""
    return sum(p.stat().st_size for p in (*rotated_files(path), path) if p.exists())


def _setup(count: int) -> tuple[Path, list[str], datetime, int]:
    rng = random.Random(7)
    numbers = make_numbers(count, rng)
    data_dir = Path(tempfile.mkdtemp(prefix="callguard-bench-"))
    listed = ParsedList()
    for number in numbers[::10]:  # 10 % of the called numbers are on both lists
        value = int(number)
        listed.by_area.setdefault(value // 10_000_000, []).append(value % 10_000_000)
    for area in AREAS:  # plus a million other listed numbers
        listed.by_area.setdefault(area, []).extend(
            rng.sample(range(2_000_000, 9_999_999), 125_000))
    today = datetime.now(UTC).date()
    for name in ("national", "ut-state"):
        write_version(data_dir, name, listed, published=today, area_codes=None, source="bench")
    # A Wednesday 11:00 in Denver: inside every window, so every rule runs.
    day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    at = datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver"))
    return data_dir, numbers, at, len(listed.by_area)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("CALLGUARD_LOG_KEY", "00" * 32)
    _count_fdatasyncs()
    n = args.decisions
    data_dir, numbers, at, areas = _setup(n)
    base = load_settings(data_dir=data_dir)
    base = replace(base, log=replace(base.log, node="dialer-01"))
    # As a FastAGI front asks: the dialplan passes ${CHANNEL(linkedid)}.
    requests = [CheckRequest(num, "ut-solar-manual", at=at, front="fastagi",
                             linkedid=f"1764093600.{i}") for i, num in enumerate(numbers)]
    configs = [("gate, no record", None)] + [
        (f"gate + record ({d})", d) for d in ("none", "group", "every")] + [
        ("record written on the loop (none)*", "inline")]
    rates: dict[tuple[str, int], list[float]] = {}
    cpus: dict[tuple[str, int], list[float]] = {}
    written: dict[str, int] = {}
    where: dict[tuple[str, int], list[dict[str, float]]] = {}

    def baseline() -> None:
        for number in numbers:
            parsed = phonenumbers.parse(number, "US")
            phonenumbers.is_valid_number(parsed)
            pn_timezone.time_zones_for_number(parsed)

    base_rates = []
    for _ in range(args.runs):
        base_rates.append(timed("baseline", n, baseline)[1])
        for concurrency in (1, args.concurrency):
            for label, durability in configs:
                policy = "none" if durability in (None, "inline") else durability
                settings = replace(base, log=replace(base.log, durability=policy))
                rate, cpu, size, parts = asyncio.run(gate_rate(
                    settings, requests, record=durability is not None,
                    concurrency=concurrency, inline=durability == "inline"))
                rates.setdefault((label, concurrency), []).append(rate)
                cpus.setdefault((label, concurrency), []).append(cpu)
                where.setdefault((label, concurrency), []).append(parts)
                if durability is not None:
                    written[label] = size

    policy = base.policy()
    parsed = [base.parser().parse(num) for num in numbers]
    campaign = base.campaigns["ut-solar-manual"]
    plans = [policy.plan(CallAttempt(p, campaign, campaign.default_mode, at)) for p in parsed]
    today = at.date()
    facts = [Facts(lists={name: ListCheck(name, 1, today, False, True)
                          for name in ("national", "ut-state")},
                   fetched=frozenset(FactKind)) for _ in parsed]

    def policy_only() -> None:
        for plan, fact in zip(plans, facts, strict=True):
            policy.decide(plan, fact)

    policy_rate = timed("policy", n, policy_only)[1]
    print(f"{n} decisions per row, {args.runs} interleaved runs (median; ratio min-max); "
          f"Utah manual campaign, all three packs; {areas} area codes listed; 10 % of "
          f"the calls BLOCK (listed)\n")
    print(f"{'what':34} {'in flight':>9} {'per second':>11} {'µs each':>8} "
          f"{'CPU µs':>7} {'x no record':>17} {'B/decision':>10}")
    print(f"{'baseline: phonenumbers':34} {'':>9} {statistics.median(base_rates):11,.0f} "
          f"{1e6 / statistics.median(base_rates):8.1f}")
    for concurrency in (1, args.concurrency):
        plain = rates[("gate, no record", concurrency)]
        for label, _ in configs:
            runs = rates[(label, concurrency)]
            ratios = [r / p for r, p in zip(runs, plain, strict=True)]
            rate = statistics.median(runs)
            size = f"{written[label] / n:10.0f}" if label in written else ""
            print(f"{label:34} {concurrency:9} {rate:11,.0f} {1e6 / rate:8.1f} "
                  f"{statistics.median(cpus[(label, concurrency)]):7.1f} "
                  f"{statistics.median(ratios):6.2f} ({min(ratios):.2f}-{max(ratios):.2f}) "
                  f"{size}")
    print(f"{'policy only (plan prebuilt)':34} {'':>9} {policy_rate:11,.0f} "
          f"{1e6 / policy_rate:8.1f}")
    print(f"\nwhere the time goes (µs per decision, median): {'in flight':>9} {'loop':>6} "
          f"{'writer':>6} {'others':>6} {'idle':>6} {'fdatasyncs':>10} {'lines each':>10}")
    for concurrency in (1, args.concurrency):
        for label, _ in configs:
            runs = where[(label, concurrency)]

            def median(key: str, runs=runs) -> float:
                return statistics.median(r[key] for r in runs)

            print(f"{label:47} {concurrency:9} {median('loop'):6.1f} {median('writer'):6.1f} "
                  f"{median('others'):6.1f} {median('idle'):6.1f} "
                  f"{median('fdatasyncs'):10.3f} {median('lines'):10.1f}")
    shutil.rmtree(data_dir, ignore_errors=True)
    print("\n* not how callguard writes (its writer thread keeps flock/write/fdatasync off "
          "the event loop): the same encoder and file, written on the loop — what the "
          "hand-over to the thread costs")


if __name__ == "__main__":
    main()
