"""FastAGI load: callguard serve beside a null FastAGI server, side by side in one run.

Run: .venv/bin/python bench/bench_fastagi.py [--seconds 5] [--rate 1000]

Both servers run as their own processes; this process is the load generator (open loop:
session i starts at t0 + i/rate whether or not earlier ones finished, and its latency is
measured from that scheduled start, so queueing is not hidden). Each session replays the
recorded Asterisk 22.10.1 header block, answers the answer (``EXEC MSet``) with
``200 result=0`` and the ``GET VARIABLE`` confirming it as res_agi.c would
(tests/fake_asterisk.py ``asterisk_answer``), and waits for the server to close. Server
CPU per session comes from /proc/PID/stat; each row also splits it, from
/proc/PID/task/*/stat, into the main thread's user/system time and the other threads'.
Each server is measured --runs times, interleaved (median and min-max of the CPU ratio);
--tuning both adds the runs with glibc's malloc tuning off (on is as shipped).

The calls are a dialer's: distinct numbers in a few area codes (Utah's and others), 10 %
of them on the do-not-call lists (plus a million other listed numbers), each session its
own linkedid, the Utah manual campaign; callguard's clock starts at a Wednesday 11:00 in
Denver (bench/serve_at.py), so the calling-hours rules pass whenever the benchmark runs and
the verdict mix (printed) is about 90 % ALLOW, 10 % BLOCK (listed). Before each measured
run the server answers one pass over the pool (a node that has run a while; the first call
of an exchange asks phonenumbers, later ones its memo).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callguard.stores.embedded.lists import write_version  # noqa: E402
from callguard.stores.list_files import ParsedList  # noqa: E402
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
AREAS = (801, 385, 435, 212, 415, 303, 702, 602)
POOL = 5000  # distinct called numbers; session i calls POOL[i % POOL]
HOLIDAYS = {(1, 1), (6, 19), (7, 4), (7, 24), (11, 11), (12, 25)}


def call_instant(today: date) -> datetime:
    """The next Wednesday (no fixed-date holiday) 11:00 in Denver: inside every window."""
    day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    while (day.month, day.day) in HOLIDAYS:
        day += timedelta(days=7)
    return datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver"))


def write_lists(data_dir: Path, numbers: list[str], rng: random.Random) -> None:
    """10 % of the called numbers on the national and Utah lists, plus a million others."""
    listed = ParsedList()
    for number in numbers[::10]:
        value = int(number)
        listed.by_area.setdefault(value // 10_000_000, []).append(value % 10_000_000)
    for area in AREAS:
        listed.by_area.setdefault(area, []).extend(
            rng.sample(range(2_000_000, 9_999_999), 125_000))
    for name in ("national", "ut-state"):
        write_version(data_dir, name, listed, published=datetime.now(UTC).date(),
                      area_codes=None, source="bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _stderr_file():
    """The server's stderr goes to a file: a pipe nobody reads would fill and stall it."""
    return tempfile.TemporaryFile()


def _stderr_tail(proc: subprocess.Popen[bytes]) -> str:
    handle = getattr(proc, "stderr_file", None)
    if handle is None:
        return ""
    handle.seek(0)
    return handle.read().decode(errors="replace")[-2000:]


def _stderr_all(proc: subprocess.Popen[bytes]) -> str:
    handle = getattr(proc, "stderr_file", None)
    if handle is None:
        return ""
    handle.seek(0)
    return handle.read().decode(errors="replace")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {_stderr_tail(proc)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"server on {port} did not start")


def start_callguard(port: int, data_dir: Path, tuning: str, at: datetime,
                    durability: str = "group", parts: Path | None = None,
                    ) -> subprocess.Popen[bytes]:
    config = data_dir / "callguard.toml"
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        'packs_dir = ""')
    text = text.replace("port = 4573", f"port = {port}").replace(
        "max_sessions = 256", "max_sessions = 10000")
    assert 'durability = "group"' in text
    text = text.replace('durability = "group"', f'durability = "{durability}"')
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_MALLOC_TUNING": tuning}
    launcher = (["serve_at.py"] if parts is None else ["serve_in_place.py", str(parts)])
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / launcher[0]), *launcher[1:], at.isoformat(), "--",
         "--config", str(config), "--data-dir", str(data_dir), "serve"],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=(err := _stderr_file()))
    proc.stderr_file = err  # type: ignore[attr-defined]
    wait_port(port, proc)
    return proc


def start_null(port: int, tuning: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CALLGUARD_MALLOC_TUNING": tuning, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "null_fastagi.py"),
                             str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=(err := _stderr_file()))
    proc.stderr_file = err  # type: ignore[attr-defined]
    wait_port(port, proc)
    return proc


async def one_session(port: int, block: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        line = await reader.readline()
        if not line.startswith(b"EXEC MSet"):
            return False
        channel: dict[str, str] = {}
        while line:  # the MSet, then the GET VARIABLE confirming it, then the close
            writer.write(asterisk_answer(line.decode().rstrip("\n"), channel, REPLY_OK))
            line = await reader.readline()
        return True
    finally:
        writer.close()


def session_blocks(port: int, numbers: list[str], total: int) -> list[bytes]:
    """One header block per session: the next number of the pool, its own linkedid."""
    return [header_block("callguard", [numbers[i % len(numbers)], "ut-solar-manual", "",
                                       f"1764093600.{i}", ""], port=port)
            for i in range(total)]


async def open_loop(port: int, rate: float, seconds: float,
                    numbers: list[str]) -> dict[str, float]:
    total = int(rate * seconds)
    blocks = session_blocks(port, numbers, total)
    latencies: list[float] = []
    failures = 0
    start = time.perf_counter() + 0.05

    async def run(i: int) -> None:
        nonlocal failures
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            ok = await asyncio.wait_for(one_session(port, blocks[i]), timeout=5)
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


def thread_ticks(pid: int) -> tuple[int, int, int, int]:
    """Clock ticks of user and system time: the main thread's, then every other thread's
    (the record writer, the executor's counts after the answer). Apart, because the
    writer's fdatasyncs are system time and deciding is the main thread's user time."""
    main_user = main_sys = other_user = other_sys = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user, system = int(fields[11]), int(fields[12])
        if task.name == str(pid):
            main_user, main_sys = main_user + user, main_sys + system
        else:
            other_user, other_sys = other_user + user, other_sys + system
    return main_user, main_sys, other_user, other_sys


def other_threads_cpu(pid: int) -> float:
    """CPU seconds of every thread but the main one (the record writer, for callguard)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        if task.name == str(pid):
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def measure(proc: subprocess.Popen[bytes], port: int, rate: float,
            seconds: float, numbers: list[str], parts: bool = False) -> dict[str, float]:
    # Warm-up: every number of the pool once, as a node that has served for a while has
    # (its NPA-NXX memo and SQLite pages warm; the calls are counted nowhere).
    asyncio.run(open_loop(port, rate, len(numbers) / rate, numbers))
    if parts:  # bench/serve_in_place.py: count the run only
        proc.send_signal(signal.SIGUSR2)
    before = cpu_seconds(proc.pid)
    threads = other_threads_cpu(proc.pid)
    ticks = thread_ticks(proc.pid)
    result = asyncio.run(open_loop(port, rate, seconds, numbers))
    result["cpu_us_per_session"] = (cpu_seconds(proc.pid) - before) / max(1, result["ok"]) * 1e6
    writer = other_threads_cpu(proc.pid) - threads
    result["writer_us_per_session"] = writer / max(1, result["ok"]) * 1e6
    for name, was, now in zip(("main_user", "main_sys", "other_user", "other_sys"), ticks,
                              thread_ticks(proc.pid), strict=True):
        result[name] = (now - was) / CLK_TCK / max(1, result["ok"]) * 1e6
    return result


def max_sustained(proc: subprocess.Popen[bytes], port: int, rates: list[int],
                  seconds: float, numbers: list[str]) -> int:
    best = 0
    for rate in rates:
        r = asyncio.run(open_loop(port, rate, seconds, numbers))
        if r["failed"] or r["achieved_per_s"] < 0.95 * rate or r["p99_ms"] > 100:
            break
        best = rate
    return best


def verdicts(data_dir: Path) -> tuple[Counter[str], Counter[str], float]:
    """Verdicts and deciding rules of BLOCKs in the node's compliance log, and its mean
    bytes per decision record (the node's packs-loaded records are not decisions)."""
    path = data_dir / "compliance.jsonl"
    counts: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    lines = path.read_bytes().splitlines() if path.exists() else []
    lines = [line for line in lines if json.loads(line).get("event") == "decision"]
    for line in lines:
        record = json.loads(line)
        counts[record.get("verdict", "?")] += 1
        if record.get("verdict") == "BLOCK":
            rules[str(record.get("rule", "?"))] += 1
    return counts, rules, (sum(len(x) + 1 for x in lines) / len(lines) if lines else 0.0)


def parts_of(proc: subprocess.Popen[bytes], out: Path) -> None:
    """Ask bench/serve_in_place.py for its counts (SIGUSR1) and print them."""
    out.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if out.exists() and out.read_text().endswith("\n"):
            break
        time.sleep(0.05)
    print("  thread CPU of deciding's steps inside callguard (the run; inclusive):")
    print("".join(f"    {line}\n" for line in out.read_text().splitlines()), end="")


def _spread(values: list[float], fmt: str = ".2f") -> str:
    return (f"{statistics.median(values):{fmt}} "
            f"({min(values):{fmt}}-{max(values):{fmt}})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--runs", type=int, default=3,
                        help="measurements of each server at --rate, interleaved")
    parser.add_argument("--durability", choices=("none", "group", "every"), default="group",
                        help="callguard's [log] durability (group is the shipped default)")
    parser.add_argument("--tuning", choices=("on", "off", "both"), default="on",
                        help="glibc malloc tuning (CALLGUARD_MALLOC_TUNING)")
    parser.add_argument("--ramp", default="1000,1500,2000,2500,3000,3500,4000",
                        help="rates tried once per server for the highest sustained; '' skips")
    parser.add_argument("--parts", type=Path, default=None, metavar="FILE",
                        help="count the thread CPU of deciding's steps inside callguard "
                             "(bench/serve_in_place.py) and print them; adds its own cost")
    args = parser.parse_args()
    rates = [int(r) for r in args.ramp.split(",") if r]
    tunings = ("on", "off") if args.tuning == "both" else (args.tuning,)
    data_dir = Path(tempfile.mkdtemp(prefix="callguard-bench-agi-"))
    rng = random.Random(7)
    numbers = [f"{rng.choice(AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
               for _ in range(POOL)]
    write_lists(data_dir, numbers, rng)
    at = call_instant(datetime.now(UTC).date())
    print(f"{POOL} distinct numbers in area codes {AREAS}, 10 % listed; campaign "
          f"ut-solar-manual; callguard's clock starts at {at.isoformat()}")
    print(f"callguard [log] durability = {args.durability!r}; "
          f"open loop at {args.rate:.0f} sessions/s for {args.seconds:.0f} s, {args.runs} "
          f"interleaved runs per server; ramp {rates} once per server for the highest "
          "sustained rate (p99 <= 100 ms, >= 95 % done)\n")
    print(f"{'server':30} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU us/sess':>11}")
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    tops: dict[tuple[str, str], int] = {}
    for run in range(args.runs):
        for tuning in tunings:
            for name in ("null", "callguard"):
                port = free_port()
                proc = (start_null(port, tuning) if name == "null"
                        else start_callguard(port, data_dir, tuning, at, args.durability,
                                             args.parts))
                try:
                    r = measure(proc, port, args.rate, args.seconds, numbers,
                                parts=name == "callguard" and args.parts is not None)
                    if run == 0 and rates:
                        tops[(tuning, name)] = max_sustained(proc, port, rates,
                                                             min(args.seconds, 3.0), numbers)
                finally:
                    if name == "callguard" and args.parts is not None:
                        parts_of(proc, args.parts)
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
                errors = _stderr_all(proc).count("Traceback")
                if errors:
                    print(f"  {name}: {errors} traceback(s) on stderr, e.g. "
                          f"{_stderr_tail(proc)[-600:]}")
                rows.setdefault((tuning, name), []).append(r)
                print(f"{name + ' (malloc tuning ' + tuning + ')':30} {r['p50_ms']:7.2f} "
                      f"{r['p99_ms']:7.2f} {r['max_ms']:7.1f} {r['cpu_us_per_session']:11.0f}"
                      f"   ok={r['ok']:.0f} failed={r['failed']:.0f} (threads but main: "
                      f"{r['writer_us_per_session']:.0f} us/sess; user/system us/sess: main "
                      f"{r['main_user']:.0f}/{r['main_sys']:.0f}, other threads "
                      f"{r['other_user']:.0f}/{r['other_sys']:.0f})", flush=True)
    counts, rules, size = verdicts(data_dir)
    total = max(1, sum(counts.values()))
    mix = ", ".join(f"{v} {n} ({n / total:.0%})" for v, n in counts.most_common())
    print(f"\ncallguard's records: {mix}; {size:.0f} bytes per record on average")
    print(f"  BLOCKs by rule: {dict(rules.most_common(5))}")
    for tuning in tunings:
        null, cg = rows[(tuning, "null")], rows[(tuning, "callguard")]
        ratios = [c["cpu_us_per_session"] / n["cpu_us_per_session"]
                  for c, n in zip(cg, null, strict=True)]
        print(f"malloc tuning {tuning}: CPU per session callguard/null "
              f"{_spread(ratios)}; callguard p99 ms {_spread([c['p99_ms'] for c in cg])}, "
              f"null p99 ms {_spread([n['p99_ms'] for n in null])}; failed "
              f"{sum(c['failed'] for c in cg):.0f}")
        if (tuning, "null") in tops:
            print(f"  highest sustained rate: callguard {tops[(tuning, 'callguard')]}/s, "
                  f"null {tops[(tuning, 'null')]}/s")
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
