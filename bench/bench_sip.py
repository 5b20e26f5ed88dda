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

``--pool N`` calls N distinct numbers in turn (Utah numbers, none listed; each called
once before the runs) instead of one: the single number's history in the frequency store
grows by a row a call, which a pool spreads. ``--parts FILE`` counts, inside both
servers under the load, the thread CPU of the steps ``bench/sip_node.py`` names, and the
CPU of each thread (the compliance writer, the executor's frequency counts) per call.
``--drop PART,...`` (repeatable) adds a callguard node without those parts of its work
(``bench/sip_node.py --drop``), measured in turn with the others: the difference is the
parts' cost, without the clocks ``--parts`` reads.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import shutil
import signal
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
# --pool: the number from SIPp's injection file, the Contact checked for its shape
POOL_KEYS = ["-key", "campaign", "ut-solar-manual",
             "-key", "contact", r"^<sip:\+1801[2-9][0-9]{6}@trunk\.example\.net>$",
             "-key", "identity", r"^<tel:\+18015550100>$"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def threads_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid`` by id: the main one is ``pid``'s."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            seconds[task.name] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


def pool_numbers(size: int) -> list[str]:
    """``size`` distinct Utah numbers (area code 801), none on the bench's lists."""
    rng = random.Random(16)
    numbers: dict[str, None] = {}
    while len(numbers) < size:
        number = f"801{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if number != "8015550199":  # the one listed number
            numbers[number] = None
    return list(numbers)


def start_node(kind: str, work: Path, freeze: bool, rcvbuf: int,
               durability: str = "group",
               parts: Path | None = None,
               drop: str = "") -> tuple[subprocess.Popen[bytes], int]:
    port = free_udp_port()
    data = work / f"{kind}-{port}"
    data.mkdir()
    args = [sys.executable, str(ROOT / "bench" / "sip_node.py"), str(port), str(data), kind]
    if not freeze:
        args.append("--no-gc-freeze")
    if rcvbuf:
        args += ["--rcvbuf", str(rcvbuf)]
    args += ["--durability", durability]
    if parts is not None:
        args += ["--parts", str(parts)]
    if drop:
        args += ["--drop", drop]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"{kind} node did not start")
    return proc, port


def scenario(work: Path, pool: bool = False) -> Path:
    """tests/sipp/redirect.xml, timing INVITE -> 302 (SIPp's response-time counter); with
    ``pool`` the number is the injection file's (``[field0]``)."""
    text = (ROOT / "tests" / "sipp" / "redirect.xml").read_text()
    text = text.replace('<send retrans="500">', '<send retrans="500" start_rtd="1">', 1)
    text = text.replace('<recv response="302">', '<recv response="302" rtd="1">', 1)
    if pool:
        text = text.replace("[number]", "[field0]")
    path = work / ("bench_pool.xml" if pool else "bench_redirect.xml")
    path.write_text(text)
    return path


def injection(work: Path, numbers: list[str]) -> Path:
    """SIPp's injection file: one number a line, taken in turn."""
    path = work / "pool.csv"
    path.write_text("SEQUENTIAL\n" + "".join(f"{number};\n" for number in numbers))
    return path


def run_sipp(port: int, rate: int, seconds: float, work: Path,
             numbers: list[str] | None = None) -> dict[str, float]:
    run_dir = Path(tempfile.mkdtemp(dir=work))
    calls = int(rate * seconds)
    started = time.monotonic()
    keys = (KEYS if not numbers else
            [*POOL_KEYS, "-inf", str(injection(work, numbers))])
    subprocess.run(
        [SIPP, f"127.0.0.1:{port}", "-sf", str(scenario(work, bool(numbers))),
         "-i", "127.0.0.1", "-t", "u1", *keys, "-r", str(rate), "-m", str(calls),
         "-l", "100000",
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


def parts_of(proc: subprocess.Popen[bytes], out: Path) -> list[str]:
    """Ask bench/sip_node.py for its counts (SIGUSR1): its lines."""
    out.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if out.exists() and out.read_text().endswith("\n"):
            break
        time.sleep(0.05)
    return out.read_text().splitlines()


def print_parts(kind: str, lines: list[str], threads: dict[str, float]) -> None:
    print(f"  {kind}: thread CPU us per call (main = the event loop): " + ", ".join(
        f"{name} {value:.1f}" for name, value in threads.items()))
    print(f"  {kind}: steps inside the server, this run (inclusive; callers include "
          "their callees' clock reads):")
    print("".join(f"    {line}\n" for line in lines), end="")


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
    parser.add_argument("--pool", type=int, default=1, metavar="N",
                        help="distinct numbers called in turn (default 1: one number)")
    parser.add_argument("--parts", type=Path, default=None, metavar="FILE",
                        help="count deciding's steps and each thread's CPU in both servers "
                             "(FILE and FILE.null)")
    parser.add_argument("--drop", action="append", default=[], metavar="PART,...",
                        help="also run callguard without these parts of its work "
                             "(bench/sip_node.py: reference, count, record, observers), "
                             "beside the others, to measure what they cost; repeatable")
    args = parser.parse_args()
    if not SIPP:
        sys.exit("sipp is missing: apt-get install sip-tester")
    rates = [int(r) for r in args.rates.split(",")]
    numbers = pool_numbers(args.pool) if args.pool > 1 else None
    parts = {"null": Path(f"{args.parts}.null"), "callguard": args.parts} if args.parts else {}
    # name -> (kind, parts left out): the servers, each measured in turn at each rate
    servers = {"null": ("null", ""), "callguard": ("callguard", ""),
               **{f"-{drop}": ("callguard", drop) for drop in args.drop}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nodes = {name: start_node(kind, work, not args.no_gc_freeze, args.rcvbuf,
                                  args.durability, parts.get(name), drop)
                 for name, (kind, drop) in servers.items()}
        print(f"callguard [log] durability = {args.durability!r}; "
              + (f"{len(numbers)} numbers called in turn" if numbers else "one number")
              + "".join(f"; -{drop}: callguard without {drop} (a measurement, not callguard)"
                        for drop in args.drop))
        try:
            for _, port in nodes.values():  # warm-up: imports, caches, first log, the pool
                run_sipp(port, 200, max(1.0, len(numbers or ()) / 200), work, numbers)
            width = max(10, *map(len, nodes))
            print(f"{'rate/s':>7} {'server':<{width}} {'ok':>6} {'failed':>6} {'retrans':>7} "
                  f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU us/call':>11} "
                  f"{'CPU x null':>10}")
            # (rate, server) -> runs of (CPU x null, CPU us/call, lost, p99 ms)
            summary: dict[tuple[int, str], list[tuple[float, float, float, float]]] = {}
            for _ in range(args.runs):
                for rate in rates:
                    cpu: dict[str, float] = {}
                    for name, (proc, port) in nodes.items():
                        counted = name in parts
                        if counted:
                            proc.send_signal(signal.SIGUSR2)  # count this run only
                            threads = threads_cpu(proc.pid)
                        before = cpu_seconds(proc.pid)
                        r = run_sipp(port, rate, args.seconds, work, numbers)
                        cpu[name] = (cpu_seconds(proc.pid) - before) / max(1, r["ok"]) * 1e6
                        ratio = cpu[name] / cpu["null"]
                        if name != "null":
                            summary.setdefault((rate, name), []).append(
                                (ratio, cpu[name], r["failed"] + r["retrans"], r["p99"]))
                        print(f"{rate:>7} {name:<{width}} {r['ok']:>6.0f} {r['failed']:>6.0f} "
                              f"{r['retrans']:>7.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
                              f"{r['max']:>7.1f} {cpu[name]:>11.0f} {ratio:>10.2f}", flush=True)
                        if counted:
                            after = threads_cpu(proc.pid)
                            print_parts(name, parts_of(proc, parts[name]), {
                                "main" if tid == str(proc.pid) else tid:
                                (seconds - threads.get(tid, 0.0)) / max(1, r["ok"]) * 1e6
                                for tid, seconds in after.items()})
            print(f"\n{args.runs} run(s) per rate; callguard: CPU x null median (min-max), "
                  "p99 ms median (min-max), failed + retransmitted in all runs")
            for (rate, name), runs in summary.items():
                ratios = [x[0] for x in runs]
                p99s = [x[3] for x in runs]
                label = "" if name == "callguard" else f" {name}"
                print(f"{rate:>7}/s{label}  {statistics.median(ratios):.2f} ({min(ratios):.2f}-"
                      f"{max(ratios):.2f})  p99 {statistics.median(p99s):.1f} "
                      f"({min(p99s):.1f}-{max(p99s):.1f})  lost {sum(x[2] for x in runs):.0f}"
                      + (f"  CPU {statistics.median(x[1] for x in runs):.0f} us/call"
                         if label else ""))
        finally:
            for proc, _ in nodes.values():
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
