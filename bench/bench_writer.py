"""The record writer alone: the group commit's linger off and on, side by side.

Run: .venv/bin/python bench/bench_writer.py [--rates 500,1000,1500] [--rounds 3]

An open loop of calls (call i starts at t0 + i/rate) on one event loop; each call spends
``--work-us`` of CPU on the loop (standing in for deciding and the FastAGI exchange), then
awaits ``RecordWriter.write`` of an 835-byte line into a real ``LogFile`` under
``durability = "group"``. Each rate is run with the linger off (``linger_s=0``) and on
(the default), alternated, ``--rounds`` times. Printed per run: CPU µs per call of the
event loop's thread, of the writer thread and of the process; records per fdatasync; the
answer's p50 and p99 from its scheduled start. CPU figures hold on a shared machine better
than latencies do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

# This checkout's code, not whichever one the venv was installed from (an A/B of two
# checkouts with one venv would otherwise compare the same code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callguard.compliance.sinks import LogFile
from callguard.compliance.writer import RecordWriter

CLK_TCK = os.sysconf("SC_CLK_TCK")
LINE = b"x" * 834 + b"\n"


def thread_cpu(native_id: int) -> float:
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def run(rate: float, seconds: float, work_us: float, linger_s: float | None,
              data_dir: Path) -> dict[str, float]:
    kwargs = {} if linger_s is None else {"linger_s": linger_s}
    writer = RecordWriter(LogFile(data_dir / "compliance.jsonl", max_bytes=1 << 34),
                          durability="group", **kwargs)
    await writer.write(LINE)  # starts the thread
    assert writer._thread is not None  # noqa: SLF001
    writer_id = writer._thread.native_id  # noqa: SLF001
    assert writer_id is not None
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    t0 = loop.time() + 0.01
    n = int(rate * seconds)
    main0, writer0, process0 = time.thread_time(), thread_cpu(writer_id), time.process_time()
    batches0 = writer.batches

    async def call(i: int) -> None:
        start = t0 + i / rate
        await asyncio.sleep(max(0.0, start - loop.time()))
        busy = time.perf_counter() + work_us / 1e6
        while time.perf_counter() < busy:
            pass
        await writer.write(LINE)
        latencies.append(loop.time() - start)

    await asyncio.gather(*(call(i) for i in range(n)))
    result = {"loop_us": (time.thread_time() - main0) / n * 1e6,
              "writer_us": (thread_cpu(writer_id) - writer0) / n * 1e6,
              "process_us": (time.process_time() - process0) / n * 1e6,
              "per_fdatasync": n / max(1, writer.batches - batches0)}
    await writer.aclose()
    latencies.sort()
    result["p50_ms"] = latencies[n // 2] * 1e3
    result["p99_ms"] = latencies[int(n * 0.99)] * 1e3
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="500,1000,1500")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--work-us", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'rate/s':>6} {'linger':>6} {'loop µs':>8} {'writer µs':>9} {'process µs':>10} "
          f"{'records/fdatasync':>17} {'p50 ms':>7} {'p99 ms':>7}")
    for _ in range(args.rounds):
        for rate in (float(r) for r in args.rates.split(",")):
            for label, linger in (("off", 0.0), ("on", None)):
                with tempfile.TemporaryDirectory(prefix="callguard-writer-") as tmp:
                    r = asyncio.run(run(rate, args.seconds, args.work_us, linger, Path(tmp)))
                print(f"{rate:6.0f} {label:>6} {r['loop_us']:8.1f} {r['writer_us']:9.1f} "
                      f"{r['process_us']:10.1f} {r['per_fdatasync']:17.1f} "
                      f"{r['p50_ms']:7.2f} {r['p99_ms']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
