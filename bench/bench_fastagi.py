"""FastAGI load: callguard serve beside a null FastAGI server, side by side in one run.

Run: .venv/bin/python bench/bench_fastagi.py [--seconds 5] [--rate 1000]

Both servers run as their own processes; this process is the load generator (open loop:
session i starts at t0 + i/rate whether or not earlier ones finished, and its latency is
measured from that scheduled start, so queueing is not hidden). Each session replays the
recorded Asterisk 22.10.1 header block, answers the one command with ``200 result=0`` and
waits for the server to close. Server CPU per session comes from /proc/PID/stat.
Figures are reported with glibc's malloc tuning on (as shipped) and off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fake_asterisk import header_block  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"server on {port} did not start")


def start_callguard(port: int, data_dir: Path, tuning: str) -> subprocess.Popen[bytes]:
    config = data_dir / "callguard.toml"
    text = (ROOT / "config" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        f'packs_dir = "{ROOT / "config" / "jurisdictions"}"')
    text = text.replace("port = 4573", f"port = {port}").replace(
        "max_sessions = 256", "max_sessions = 10000")
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_MALLOC_TUNING": tuning}
    proc = subprocess.Popen(
        [sys.executable, "-m", "callguard", "--config", str(config), "--data-dir",
         str(data_dir), "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    wait_port(port, proc)
    return proc


def start_null(port: int, tuning: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CALLGUARD_MALLOC_TUNING": tuning, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "null_fastagi.py"),
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    wait_port(port, proc)
    return proc


async def one_session(port: int, block: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        line = await reader.readline()
        if not line.startswith(b"EXEC MSet"):
            return False
        writer.write(b"200 result=0\n")
        await reader.read()
        return True
    finally:
        writer.close()


async def open_loop(port: int, rate: float, seconds: float) -> dict[str, float]:
    block = header_block("callguard", ["8015550123", "ut-solar-manual", "", "bench.1", ""],
                         port=port)
    total = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    start = time.perf_counter() + 0.05

    async def run(i: int) -> None:
        nonlocal failures
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            ok = await asyncio.wait_for(one_session(port, block), timeout=5)
        except (OSError, TimeoutError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - scheduled)
        else:
            failures += 1

    await asyncio.gather(*(run(i) for i in range(total)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"sessions": total, "ok": len(latencies), "failed": failures,
            "achieved_per_s": len(latencies) / elapsed, "p50_ms": pct(0.50),
            "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000 if latencies else 0.0}


def measure(proc: subprocess.Popen[bytes], port: int, rate: float,
            seconds: float) -> dict[str, float]:
    asyncio.run(open_loop(port, min(rate, 200), 1.0))  # warm-up
    before = cpu_seconds(proc.pid)
    result = asyncio.run(open_loop(port, rate, seconds))
    result["cpu_us_per_session"] = (cpu_seconds(proc.pid) - before) / max(1, result["ok"]) * 1e6
    return result


def max_sustained(proc: subprocess.Popen[bytes], port: int, rates: list[int],
                  seconds: float) -> int:
    best = 0
    for rate in rates:
        r = asyncio.run(open_loop(port, rate, seconds))
        if r["failed"] or r["achieved_per_s"] < 0.95 * rate or r["p99_ms"] > 100:
            break
        best = rate
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--ramp", default="1000,1500,2000,2500,3000,3500,4000")
    args = parser.parse_args()
    rates = [int(r) for r in args.ramp.split(",")]
    data_dir = Path(tempfile.mkdtemp(prefix="callguard-bench-agi-"))
    today = datetime.now(UTC).date().isoformat()
    for name in ("national", "ut-state"):
        subprocess.run([sys.executable, "-m", "callguard", "--data-dir", str(data_dir), "dnc",
                        "import", str(ROOT / "config" / "demo" / f"{name}.txt"), "--list", name,
                        "--published", today, "--covers", "all", "--max-bad-share", "0.5"],
                       cwd=ROOT, check=True, capture_output=True)
    print(f"open loop at {args.rate:.0f} sessions/s for {args.seconds:.0f} s; "
          f"ramp {rates} for the highest sustained rate (p99 <= 100 ms, >= 95 % done)\n")
    header = (f"{'server':30} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU us/sess':>11} "
              f"{'max rate/s':>10}")
    print(header)
    rows = {}
    for tuning in ("on", "off"):
        for name in ("null", "callguard"):
            port = free_port()
            proc = (start_null(port, tuning) if name == "null"
                    else start_callguard(port, data_dir, tuning))
            try:
                r = measure(proc, port, args.rate, args.seconds)
                top = max_sustained(proc, port, rates, min(args.seconds, 3.0))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            rows[(tuning, name)] = (r, top)
            print(f"{name + ' (malloc tuning ' + tuning + ')':30} {r['p50_ms']:7.2f} "
                  f"{r['p99_ms']:7.2f} {r['max_ms']:7.1f} {r['cpu_us_per_session']:11.0f} "
                  f"{top:10d}   ok={r['ok']:.0f} failed={r['failed']:.0f}", flush=True)
    print()
    for tuning in ("on", "off"):
        (null, null_top), (cg, cg_top) = rows[(tuning, "null")], rows[(tuning, "callguard")]
        print(f"malloc tuning {tuning}: callguard/null CPU per session "
              f"{cg['cpu_us_per_session'] / null['cpu_us_per_session']:.2f}x; "
              f"max rate {cg_top}/{null_top} = {cg_top / max(1, null_top):.2f}x")
    on, off = rows[("on", "callguard")][0], rows[("off", "callguard")][0]
    print(f"callguard CPU per session, tuning off/on: "
          f"{off['cpu_us_per_session'] / on['cpu_us_per_session']:.2f}x")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
