"""The record writer alone under ``durability = "group"``: CPU and fdatasyncs per call.

Run: .venv/bin/python bench/bench_writer.py [--rates 1,500,1000,1500] [--rounds 3]
     [--lingers off,on] [--trees .,/work/main]

An open loop of calls (call i starts at t0 + i/rate) on one event loop; each call spends
``--work-us`` of CPU on the loop (standing in for deciding and the FastAGI exchange), then
awaits ``RecordWriter.write`` of an 835-byte line into a real ``LogFile``. Each rate is run
for every tree (``--trees``: checkouts whose ``callguard`` is imported, each in its own
subprocess, so an A/B runs each tree's own code) and linger (``off``: ``linger_s=0``;
``on``: the default), alternated, ``--rounds`` times. Printed per run: CPU µs per call of
the event loop's thread, of the writer thread and of the process; fdatasyncs per second
and lines per fdatasync (``os.fdatasync`` counted in the process); the answer's p50 and
p99 from its scheduled start. A rate of 1 is one call at a time: it must sync at once
(p50 about one fdatasync). CPU figures and counts hold on a shared machine better than
latencies do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE = b"x" * 834 + b"\n"


def modelled(wall_ms: float, cpu_us: float) -> object:
    """An fdatasync that costs ``cpu_us`` of the thread's CPU and ``wall_ms`` in all (this
    VM's disk when quiet: ~0.3 ms, ~90-170 µs), for counts that do not move with the load."""
    def fdatasync(fd: int) -> None:
        began = time.perf_counter()
        busy = time.thread_time() + cpu_us / 1e6
        while time.thread_time() < busy:
            pass
        time.sleep(max(0.0, wall_ms / 1e3 - (time.perf_counter() - began)))
    return fdatasync


async def run(rate: float, seconds: float, work_us: float, linger_s: float | None,
              data_dir: Path, model: str | None = None) -> dict[str, float]:
    from callguard.compliance.sinks import LogFile  # noqa: PLC0415 - the tree's (``child``)
    from callguard.compliance.writer import RecordWriter  # noqa: PLC0415

    syncs = [0]
    walls: list[float] = []
    fdatasync = os.fdatasync
    real = fdatasync
    if model:
        wall_ms, cpu_us = (float(x) for x in model.split(":"))
        real = modelled(wall_ms, cpu_us)  # type: ignore[assignment]
    holds, commits = [0], [0]
    sync_held, commit = LogFile.sync_held, LogFile.commit

    def counted_hold(self: LogFile, *args: object) -> tuple[list[object], OSError | None]:
        result = sync_held(self, *args)  # type: ignore[arg-type]
        holds[0] += bool(result[0])
        return result

    def counted_commit(self: LogFile, data: bytes, *, sync: bool) -> None:
        commits[0] += 1
        commit(self, data, sync=sync)

    LogFile.sync_held, LogFile.commit = counted_hold, counted_commit  # type: ignore[method-assign]

    def counted(fd: int) -> None:
        syncs[0] += 1
        began = time.perf_counter()
        try:
            real(fd)
        finally:
            walls.append(time.perf_counter() - began)

    os.fdatasync = counted  # every fdatasync of this process is the writer's
    kwargs = {} if linger_s is None else {"linger_s": linger_s}
    writer = RecordWriter(LogFile(data_dir / "compliance.jsonl", max_bytes=1 << 34),
                          durability="group", **kwargs)
    await writer.write(LINE)  # starts the thread
    assert writer._thread is not None  # noqa: SLF001
    writer_clock = time.pthread_getcpuclockid(writer._thread.ident)  # noqa: SLF001
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    t0 = loop.time() + 0.01
    n = max(int(rate * seconds), 50)
    main0, process0 = time.thread_time(), time.process_time()
    writer0 = time.clock_gettime(writer_clock)
    syncs0, wall0 = syncs[0], time.perf_counter()
    holds0, commits0 = holds[0], commits[0]
    del walls[:]

    async def call(i: int) -> None:
        start = t0 + i / rate
        await asyncio.sleep(max(0.0, start - loop.time()))
        busy = time.perf_counter() + work_us / 1e6
        while time.perf_counter() < busy:
            pass
        await writer.write(LINE)
        latencies.append(loop.time() - start)

    if rate <= 1:  # one call at a time, back to back
        for _ in range(n):
            start = loop.time()
            busy = time.perf_counter() + work_us / 1e6
            while time.perf_counter() < busy:
                pass
            await writer.write(LINE)
            latencies.append(loop.time() - start)
    else:
        await asyncio.gather(*(call(i) for i in range(n)))
    fdatasyncs = syncs[0] - syncs0
    held, committed = holds[0] - holds0, commits[0] - commits0
    result = {"loop_us": (time.thread_time() - main0) / n * 1e6,
              "writer_us": (time.clock_gettime(writer_clock) - writer0) / n * 1e6,
              "process_us": (time.process_time() - process0) / n * 1e6,
              "per_fdatasync": n / max(1, fdatasyncs),
              "fdatasyncs_s": fdatasyncs / (time.perf_counter() - wall0),
              "holds": held / n, "commits": committed / n}
    await writer.aclose()
    os.fdatasync = fdatasync
    latencies.sort()
    walls.sort()
    result["fdatasync_ms"] = walls[len(walls) // 2] * 1e3 if walls else 0.0
    result["p50_ms"] = latencies[n // 2] * 1e3
    result["p99_ms"] = latencies[int(n * 0.99)] * 1e3
    return result


def label(tree: str) -> str:
    """A checkout's name: its directory, or its parent's when that is the branch's."""
    path = Path(tree).resolve()
    return (path.name if path.name != "main" or path.parent.name == "work"
            else path.parent.name)[-12:]


def child(args: argparse.Namespace) -> None:
    """One run, in a process that imports ``--tree``'s callguard; prints its figures."""
    sys.path.insert(0, str(Path(args.tree).resolve()))
    linger = 0.0 if args.linger == "off" else None if args.linger == "on" else float(args.linger)
    with tempfile.TemporaryDirectory(prefix="callguard-writer-") as tmp:
        result = asyncio.run(run(args.rate, args.seconds, args.work_us, linger, Path(tmp),
                                 args.model))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="1,500,1000,1500")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--work-us", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lingers", default="on",
                        help="off (linger_s=0), on (the default) or seconds, comma-separated")
    parser.add_argument("--trees", default=str(Path(__file__).resolve().parent.parent),
                        help="checkouts to compare, comma-separated (each runs its own code)")
    parser.add_argument("--model", default="",
                        help="WALL_MS:CPU_US: a modelled fdatasync in place of the disk's "
                        "(e.g. 0.3:100, this VM's disk when quiet)")
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--linger", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tree is not None:
        child(args)
        return
    print(f"{'rate/s':>6} {'tree':>12} {'linger':>6} {'loop µs':>8} {'writer µs':>9} "
          f"{'process µs':>10} {'fdatasync/s':>11} {'lines/fdatasync':>15} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'fdatasync ms':>12} {'holds':>5} {'batches':>7}")
    for _ in range(args.rounds):
        for rate in args.rates.split(","):
            for tree in args.trees.split(","):
                for linger in args.lingers.split(","):
                    out = subprocess.run(
                        [sys.executable, __file__, "--tree", tree, "--rate", rate,
                         "--linger", linger, "--seconds", str(args.seconds),
                         "--work-us", str(args.work_us), "--model", args.model],
                        check=True, capture_output=True, text=True).stdout
                    r = json.loads(out.strip().splitlines()[-1])
                    print(f"{float(rate):6.0f} {label(tree):>12} "
                          f"{linger:>6} {r['loop_us']:8.1f} {r['writer_us']:9.1f} "
                          f"{r['process_us']:10.1f} {r['fdatasyncs_s']:11.0f} "
                          f"{r['per_fdatasync']:15.2f} {r['p50_ms']:7.2f} "
                          f"{r['p99_ms']:7.2f} {r['fdatasync_ms']:12.2f} {r['holds']:5.2f} "
                          f"{r['commits']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
