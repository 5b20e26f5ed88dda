"""What a call-frequency cap costs per decision, on Redis and embedded, side by side.

Run: .venv/bin/python bench/bench_frequency.py [--decisions N] [--runs R] [--concurrency C]

Each backend is measured with the shipped packs (Florida's 501.616(6)(b) cap active for
Florida numbers) and with the same packs minus every call-frequency rule (Florida's,
Oklahoma's, Maryland's: with any cap loaded every ALLOW is counted, under a cap or not),
runs interleaved in one process, so the ratio is what the caps cost on this (noisy,
shared) machine. ``--keep-other-caps`` removes Florida's alone: no cap covers the calls,
but the Oklahoma and Maryland caps count them (what a call no cap covers costs). Every
decision is an ALLOW to a distinct Florida number (the cap is checked and the call
counted, never refused), through the real gate: parse, plan, lists, the company-DNC read,
the policy and, with the cap, the check-and-reserve. By default the compliance record is
replaced by a no-op (the decision alone; the embedded counts then commit ``FULL``, as on a
node whose records prove nothing); ``--record`` writes it as the shipped configuration
does (``[log] durability = "group"``): the whole path a front waits for, the embedded counts
committed ``NORMAL`` (the record carries their rows and is synced before the answer).

- Redis: a real redis-server (AOF, appendfsync always, as the shipped compose file) on
  loopback; records and counts in it. The cap adds at most ONE round trip per decision:
  the reservations in flight on the node go together in one EVALSHA (group commit), so
  the round trips added per decision are one divided by the mean group. Round trips are
  counted in this process: each request the asyncio client sends (one command, or one
  pipeline of several) and waits for. (The server's ``commandstats`` counted here before
  session 10 also counts what scripts run inside the server — the record read's HGET and
  marker GET since session 9 — and each command of a pipeline apart, such as the CONFIG
  GETs sent in the same round trip as a group's EVALSHA.)
- embedded: records and counts in SQLite; the reservation is one ``BEGIN IMMEDIATE``
  transaction with ``synchronous=FULL`` in a worker thread; reservations in flight together
  share one transaction and one fsync (group commit).

Beside the rate, the CPU each configuration used per decision: this process's (every
thread: the loop and the store's worker), and for Redis the server's (``/proc/<pid>/stat``),
since on a shared machine the rate moves with other load while CPU per decision moves less.

``--instant-store`` replaces the frequency store by one that grants every reservation at
once and keeps nothing: what is left of the cap's cost is the policy and gate path alone
(claims, the reserving round, the rule's judgement), apart from the store and its fsync.

``--parts`` also prints where the time goes: the event loop's own CPU per decision (the
rest of the process's is other threads', the embedded store's worker above all) and, for
the embedded store, its transactions: how many reservations each held, the worker's CPU
and wall time per transaction (wall minus CPU: mostly the fsync). While a transaction
runs, every decision of its group waits and the loop has nothing else to do.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio.connection import AbstractConnection

# This checkout's callguard, before the .venv's editable install (which points at the checkout
# that created it): an A/B against another checkout runs that checkout's code.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callguard.config import load_settings  # noqa: E402
from callguard.facts.frequency import FREQUENCY  # noqa: E402
from callguard.gate import CheckRequest  # noqa: E402
from callguard.policy import pack_from_mapping  # noqa: E402
from callguard.policy.frequency import FrequencyResult  # noqa: E402
from callguard.runtime import open_runtime  # noqa: E402
from callguard.stores.embedded.lists import write_version  # noqa: E402
from callguard.stores.list_files import parse_list_file  # noqa: E402
from callguard.stores.redis.records import RecordsSettings  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

AT = datetime(2026, 7, 22, 16, 0, tzinfo=UTC)  # noon EDT, a Wednesday
FL_AREAS = (305, 786, 954, 561, 407, 813)


_WITH_RECORD = "written (group; the embedded counts commit NORMAL, proved by it)"
_WITHOUT_RECORD = "not written (the embedded counts commit FULL)"


async def _no_record(_decision: object) -> None:
    return None


class InstantStore:
    """Grants every reservation at once and keeps nothing (``--instant-store``)."""

    async def reserve(self, _e164, claims, _at, _stamp=None) -> FrequencyResult:
        return FrequencyResult(tuple(claims), tuple(0 for _ in claims), None)


def without_cap(settings, *, keep_other_caps: bool = False):
    """The same settings with no call-frequency rule (or, with ``keep_other_caps``, only
    Florida's removed); nothing else changed."""
    packs = dict(settings.packs)
    for pack_id in ("us-fl",) if keep_other_caps else ("us-fl", "us-ok", "us-md"):
        path = ROOT / "callguard" / "data" / "jurisdictions" / f"{pack_id}.toml"
        doc = tomllib.loads(path.read_text())
        caps = {r["id"] for r in doc["rules"] if r["kind"] == "call-frequency"}
        doc["rules"] = [r for r in doc["rules"] if r["id"] not in caps]
        doc["interpretations"] = [  # the readings of the caps go with them
            i for i in doc.get("interpretations", [])
            if not any(o.get("rule") in caps for option in i["options"].values()
                       for o in option.get("overrides", []))]
        packs[pack_id] = pack_from_mapping(doc, origin="bench")
    return dataclasses.replace(settings, packs=packs)


@dataclasses.dataclass
class Parts:
    """Where a run's time went (``--parts``): the loop thread's CPU, and the embedded
    store's transactions (count, reservations, the worker's CPU and wall seconds)."""

    loop_cpu: float = 0.0
    transactions: int = 0
    reservations: int = 0
    worker_cpu: float = 0.0
    worker_wall: float = 0.0


def watch_transactions(store: object, parts: Parts) -> None:
    """Time each ``reserve_batch`` of an embedded frequency store (its worker's
    transaction: statements, COMMIT and fsync) into ``parts``."""
    batch = getattr(store, "reserve_batch", None)
    if batch is None:
        return

    def timed(group: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return batch(group)
        finally:
            parts.worker_cpu += time.thread_time() - cpu
            parts.worker_wall += time.perf_counter() - wall
            parts.transactions += 1
            parts.reservations += len(group)

    store.reserve_batch = timed  # type: ignore[attr-defined]


async def rate(settings, numbers: list[str], concurrency: int, *, record: bool,
               instant: bool = False, parts: Parts | None = None,
               watch: bool = False) -> tuple[float, int, float]:
    """Decisions per second, the run's decisions that were not ALLOW, and this process's
    CPU seconds (every thread) while they ran; ``parts``, when given, gets the loop's CPU
    and, with ``watch``, the embedded store's transactions."""
    if not record:
        # No record proves the embedded counts: they commit FULL, as on a node whose
        # records prove nothing (``[log] durability = "none"``). With the record written
        # (the shipped configuration) they commit NORMAL, proved by the record.
        settings = dataclasses.replace(settings, log=dataclasses.replace(
            settings.log, durability="none"))
    runtime = open_runtime(settings)
    await runtime.start()
    if not record:
        runtime.gate._record = _no_record  # noqa: SLF001 - the decision alone
    if instant:
        runtime.gate._stores[FREQUENCY] = InstantStore()  # noqa: SLF001 - no store
    elif watch and parts is not None and FREQUENCY in runtime.gate._stores:  # noqa: SLF001
        watch_transactions(runtime.gate._stores[FREQUENCY], parts)  # noqa: SLF001
    queue = list(numbers)
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while queue:
            number = queue.pop()
            decision = await runtime.gate.check(CheckRequest(
                number, "ut-solar-manual", at=AT, front="fastagi"))
            refused += not decision.allowed

    started, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if parts is not None:
        parts.loop_cpu += time.thread_time() - loop
    await runtime.aclose()
    return len(numbers) / elapsed, refused, cpu


def server_cpu(server: RedisServer) -> float:
    """redis-server's CPU seconds so far (user + system)."""
    assert server.process is not None
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_SENT = [0]  # requests the asyncio clients of this process sent (count_round_trips)


def count_round_trips() -> None:
    """Count every request an asyncio Redis connection sends: one command, or a whole
    pipeline (``send_packed_command`` is called once for each; the client then waits
    for the answers, so each is one round trip)."""
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any,
                      check_health: bool = True) -> None:
        _SENT[0] += 1
        await original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def round_trips() -> int:
    """Round trips to Redis so far (``count_round_trips``)."""
    return _SENT[0]


def print_parts(split: dict[str, list[Parts]], decisions: int) -> None:
    """The ``--parts`` table: medians over the runs."""
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    print(f"\n{'configuration':<22}{'loop CPU us/decision':>22}{'transactions':>14}"
          f"{'reservations each':>19}{'worker CPU us each':>20}{'worker wall us each':>21}")
    for key, runs in split.items():
        loop = median([p.loop_cpu / decisions * 1e6 for p in runs])
        done = [p for p in runs if p.transactions]
        if not done:
            print(f"{key:<22}{loop:>22.0f}{'-':>14}{'-':>19}{'-':>20}{'-':>21}")
            continue
        print(f"{key:<22}{loop:>22.0f}{median([p.transactions for p in done]):>14.0f}"
              f"{median([p.reservations / p.transactions for p in done]):>19.1f}"
              f"{median([p.worker_cpu / p.transactions * 1e6 for p in done]):>20.0f}"
              f"{median([p.worker_wall / p.transactions * 1e6 for p in done]):>21.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--record", action="store_true",
                        help="write the compliance record too (the [log] durability of the "
                             "shipped config, group): the whole decision path")
    parser.add_argument("--instant-store", action="store_true",
                        help="a frequency store that grants at once and keeps nothing: the "
                             "cap's cost in the policy and gate alone")
    parser.add_argument("--parts", action="store_true",
                        help="also print the loop's CPU per decision and the embedded "
                             "store's transactions (size, worker CPU and wall)")
    parser.add_argument("--keep-other-caps", action="store_true",
                        help="'no cap' removes Florida's cap alone: the Oklahoma and "
                             "Maryland caps still count every ALLOW (what a call no cap "
                             "covers costs)")
    args = parser.parse_args()
    count_round_trips()
    rng = random.Random(18)
    work = Path(tempfile.mkdtemp(prefix="bench-frequency-"))
    server = RedisServer(work / "redis")
    server.data_dir.mkdir()
    server.start()
    try:
        listing = work / "list.txt"
        listing.write_text("3055550199\n")
        parsed = parse_list_file(listing)
        base = {}
        for backend in ("embedded", "redis"):
            data = work / f"node-{backend}"
            data.mkdir()
            for name in ("national", "fl-state", "ut-state"):
                write_version(data, name, parsed, published=AT.date(), area_codes=None,
                              source="bench")
            settings = load_settings(data_dir=data)
            if backend == "redis":
                settings = dataclasses.replace(settings, redis_url=server.url,
                                               records=RecordsSettings(backend="redis"))
            base[backend] = settings
        results: dict[str, list[float]] = {}
        trips: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}  # this process, us per decision
        servers: dict[str, list[float]] = {}  # redis-server, us per decision
        split: dict[str, list[Parts]] = {}  # --parts, per run
        for run in range(args.runs):
            for backend in ("embedded", "redis"):
                for label, settings in (("cap", base[backend]),
                                        ("no cap", without_cap(
                                            base[backend],
                                            keep_other_caps=args.keep_other_caps))):
                    numbers = [f"{rng.choice(FL_AREAS)}{rng.randint(200, 999)}"
                               f"{rng.randint(0, 9999):04d}" for _ in range(args.decisions)]
                    before, server_before = round_trips(), server_cpu(server)
                    parts = Parts()
                    per_s, refused, cpu = asyncio.run(rate(settings, numbers, args.concurrency,
                                                             record=args.record,
                                                             instant=args.instant_store,
                                                             parts=parts, watch=args.parts))
                    if refused:
                        raise SystemExit(f"{backend}/{label}: {refused} decisions were not "
                                         "ALLOW; the bench measures ALLOWs")
                    key = f"{backend}, {label}"
                    split.setdefault(key, []).append(parts)
                    results.setdefault(key, []).append(per_s)
                    cpus.setdefault(key, []).append(cpu / args.decisions * 1e6)
                    if backend == "redis":
                        servers.setdefault(key, []).append(
                            (server_cpu(server) - server_before) / args.decisions * 1e6)
                        trips.setdefault(key, []).append(
                            (round_trips() - before) / args.decisions)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        print(f"{args.decisions} decisions x {args.runs} runs, concurrency "
              f"{args.concurrency}, interleaved, compliance record "
              f"{_WITH_RECORD if args.record else _WITHOUT_RECORD}"
              f"{', instant frequency store' if args.instant_store else ''}\n")
        print(f"{'configuration':<22}{'median/s':>10}{'min':>9}{'max':>9}"
              f"{'Redis round trips/decision':>28}{'CPU us/decision':>17}"
              f"{'redis-server us':>17}")
        for key, values in results.items():
            cmds = f"{statistics.median(trips[key]):.2f}" if key in trips else "-"
            server_us = (f"{statistics.median(servers[key]):.0f}" if key in servers
                         else "-")
            print(f"{key:<22}{statistics.median(values):>10.0f}{min(values):>9.0f}"
                  f"{max(values):>9.0f}{cmds:>28}{statistics.median(cpus[key]):>17.0f}"
                  f"{server_us:>17}")
        if args.parts:
            print_parts(split, args.decisions)
        print()
        for backend in ("embedded", "redis"):
            ratios = [c / n for c, n in zip(results[f"{backend}, cap"],
                                             results[f"{backend}, no cap"], strict=True)]
            print(f"{backend}: cap / no cap = {statistics.median(ratios):.2f} "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f}, per run pair)")
            # CPU per decision, no cap / cap, per run pair: what the rate ratio would be
            # if CPU alone bounded the rate (Redis: this process and the server together).
            own = [(n + nsrv) / (c + csrv) for c, n, csrv, nsrv in zip(
                cpus[f"{backend}, cap"], cpus[f"{backend}, no cap"],
                servers.get(f"{backend}, cap", [0.0] * args.runs),
                servers.get(f"{backend}, no cap", [0.0] * args.runs), strict=True)]
            print(f"{backend}: CPU per decision, no cap / cap = {statistics.median(own):.2f} "
                  f"(min {min(own):.2f}, max {max(own):.2f})")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
