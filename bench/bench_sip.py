"""SIP front load: SIPp at fixed rates against callguard and a null 302 responder.

Run: .venv/bin/python bench/bench_sip.py [--rates 500,1000,1500,2000,2500] [--seconds 5]

Both servers are ``bench/sip_node.py`` processes (UDP): ``callguard`` decides through the
real gate (embedded lists, SQLite records, compliance log to file; clock pinned so every
call is the same ALLOW path), ``null`` is the same SipFront and transaction layer
answering the same 302 from a prebuilt decision. At each rate SIPp (Debian's sip-tester)
runs tests/sipp/redirect.xml — INVITE, 302 checked (Contact, P-Asserted-Identity,
decision id), ACK — for ``seconds``; the servers take turns at each rate. Loss is what
SIPp counts: failed calls and its own INVITE retransmissions (a lost datagram either
way). Response times are SIPp's (INVITE sent to 302 received; its clock moves in whole
milliseconds). Server CPU per call comes from /proc/PID/stat.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIPP = shutil.which("sipp") or ""
KEYS = ["-key", "number", "8015550123", "-key", "campaign", "ut-solar-manual",
        "-key", "contact", r"^<sip:\+18015550123@trunk\.example\.net>$",
        "-key", "identity", r"^<tel:\+18015550100>$"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(kind: str, work: Path, freeze: bool, rcvbuf: int,
               durability: str = "group") -> tuple[subprocess.Popen[bytes], int]:
    port = free_udp_port()
    data = work / f"{kind}-{port}"
    data.mkdir()
    args = [sys.executable, str(ROOT / "bench" / "sip_node.py"), str(port), str(data), kind]
    if not freeze:
        args.append("--no-gc-freeze")
    if rcvbuf:
        args += ["--rcvbuf", str(rcvbuf)]
    args += ["--durability", durability]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"{kind} node did not start")
    return proc, port


def scenario(work: Path) -> Path:
    """tests/sipp/redirect.xml, timing INVITE -> 302 (SIPp's response-time counter)."""
    text = (ROOT / "tests" / "sipp" / "redirect.xml").read_text()
    text = text.replace('<send retrans="500">', '<send retrans="500" start_rtd="1">', 1)
    text = text.replace('<recv response="302">', '<recv response="302" rtd="1">', 1)
    path = work / "bench_redirect.xml"
    path.write_text(text)
    return path


def run_sipp(port: int, rate: int, seconds: float, work: Path) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=work))
    calls = int(rate * seconds)
    started = time.monotonic()
    subprocess.run(
        [SIPP, f"127.0.0.1:{port}", "-sf", str(scenario(work)), "-i", "127.0.0.1",
         "-t", "u1", *KEYS, "-r", str(rate), "-m", str(calls), "-l", "100000",
         "-timer_resol", "1", "-nostdin", "-timeout", f"{seconds * 3 + 40:.0f}s",
         "-buff_size", "8388608", "-trace_rtt", "-rtt_freq", "200",
         "-trace_stat", "-stf", str(run_dir / "stat.csv"), "-fd", "3600"],
        cwd=run_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - started
    rows = list(csv.reader((run_dir / "stat.csv").open(), delimiter=";"))
    head, last = rows[0], rows[-1]

    def stat(name: str) -> int:
        return int(float(last[head.index(name)]))

    times = sorted(float(r.split(";")[1])
                   for f in run_dir.glob("*_rtt.csv")
                   for r in f.read_text().splitlines()[1:] if r)
    return {"calls": calls, "ok": stat("SuccessfulCall(C)"), "failed": stat("FailedCall(C)"),
            "retrans": stat("Retransmissions(C)"), "elapsed": elapsed,
            "p50": statistics.median(times) if times else float("nan"),
            "p99": percentile(times, 0.99),
            "max": times[-1] if times else float("nan")}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,1000,1500,2000,2500")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="run both nodes without gc.freeze() after start-up")
    parser.add_argument("--durability", choices=("none", "group", "every"), default="group",
                        help="callguard's [log] durability (group is the shipped default)")
    parser.add_argument("--runs", type=int, default=1,
                        help="passes over the rates; the summary gives median and min-max")
    parser.add_argument("--rcvbuf", type=int, default=0,
                        help="SO_RCVBUF the nodes ask for (default: [sip] receive_buffer_bytes)")
    args = parser.parse_args()
    if not SIPP:
        sys.exit("sipp is missing: apt-get install sip-tester")
    rates = [int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nodes = {kind: start_node(kind, work, not args.no_gc_freeze, args.rcvbuf,
                                  args.durability)
                 for kind in ("null", "callguard")}
        print(f"callguard [log] durability = {args.durability!r}")
        try:
            for _, port in nodes.values():  # warm-up: imports, caches, first log
                run_sipp(port, 200, 1.0, work)
            print(f"{'rate/s':>7} {'server':<10} {'ok':>6} {'failed':>6} {'retrans':>7} "
                  f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU us/call':>11} "
                  f"{'CPU x null':>10}")
            summary: dict[int, list[tuple[float, float, float, float]]] = {}
            for _ in range(args.runs):
                for rate in rates:
                    cpu: dict[str, float] = {}
                    lost = 0.0
                    p99 = 0.0
                    for kind, (proc, port) in nodes.items():
                        before = cpu_seconds(proc.pid)
                        r = run_sipp(port, rate, args.seconds, work)
                        cpu[kind] = (cpu_seconds(proc.pid) - before) / max(1, r["ok"]) * 1e6
                        ratio = f"{cpu[kind] / cpu['null']:.2f}" if kind != "null" else "1.00"
                        if kind == "callguard":
                            lost, p99 = r["failed"] + r["retrans"], r["p99"]
                        print(f"{rate:>7} {kind:<10} {r['ok']:>6.0f} {r['failed']:>6.0f} "
                              f"{r['retrans']:>7.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
                              f"{r['max']:>7.1f} {cpu[kind]:>11.0f} {ratio:>10}", flush=True)
                    summary.setdefault(rate, []).append(
                        (cpu["callguard"] / cpu["null"], cpu["callguard"], lost, p99))
            print(f"\n{args.runs} run(s) per rate; callguard: CPU x null median (min-max), "
                  "p99 ms median (min-max), failed + retransmitted in all runs")
            for rate, runs in summary.items():
                ratios = [x[0] for x in runs]
                p99s = [x[3] for x in runs]
                print(f"{rate:>7}/s  {statistics.median(ratios):.2f} ({min(ratios):.2f}-"
                      f"{max(ratios):.2f})  p99 {statistics.median(p99s):.1f} "
                      f"({min(p99s):.1f}-{max(p99s):.1f})  lost {sum(x[2] for x in runs):.0f}")
        finally:
            for proc, _ in nodes.values():
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
