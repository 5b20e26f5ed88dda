"""AMI watchdog latency: called party's Hangup event -> our Hangup action -> line released.

Run: .venv/bin/python bench/bench_watchdog.py [--seconds 10] [--rate 100] [--burst 1000]
     [--restart 1000] [--restart-ending 100] [--only steady,burst,restart[,on-only]]
     (on-only: the burst with the filter on only; BENCH_DEBUG=1 shows the node's logs)

Asterisk is not packaged here, so Asterisk is the replaying fake manager of the tests
(tests/fake_ami.py, real TCP): every call is the lab's Asterisk 22.10.1 recording call-01
(answered, the called party hangs up, the dialer's ``Dial(...,g)`` keeps the calling legs
up) with its ids and channel names rewritten per call, and the calling legs' recorded
Hangup events are held back until callguard's AMI ``Hangup`` names them. The watchdog
(panoramisk Manager + CallTracker, grace 0, as ``callguard serve`` runs it) is its own
process. It learns which calls to follow from the calls themselves, as in production:
each call's channels carry the ``CALLGUARD_FOLLOW`` variable (set here before the call's
first event; the real MSet sets it during AGI()), and the fake adds the ``ChanVariable``
lines manager.conf ``channelvars`` would (tests/fake_ami.py says what it synthesises).

Both ends are timed in this process on CLOCK_MONOTONIC: from writing the called party's
Hangup event to receiving the first and the last Hangup action of that call, and to
writing the last calling leg's Hangup event (the line is free; a real Asterisk 22.10.1
took a further 1.4-1.8 ms). The watchdog's own ``release_ms`` (its line-release record)
is reported beside them, with its CPU from /proc/PID/stat.

Two loads, each with the manager's event filter on (only the events the tracker uses, as
asterisk-dialplan/manager-callguard.conf sets) and off (all ~105 events of every call),
side by side: ``steady`` starts ``rate`` calls/s, each ending 1.5 s after it starts;
``burst`` sets up ``burst`` calls, then ends them all within one second.

A third, ``restart`` (filter on): ``--restart`` calls set up and answered, the watchdog
process killed with SIGKILL, a new one started at once (systemd's Restart=on-failure,
without its RestartSec); ``--restart-ending`` of the calls have their called party hang up
during the restart, spread over the 600 ms after the kill. Measured: from starting the new
process to its first picture with every still-open call followed again (its own
CLOCK_MONOTONIC stamp, the same clock), and the release latency of the calls that ended in
that window (called party's Hangup written -> last calling leg's Hangup written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from callguard.fronts.fastagi.contract import VAR_FOLLOW  # noqa: E402
from callguard.watchdog.ami import AmiSettings, AmiWatchdog  # noqa: E402
from callguard.watchdog.calls import USED_EVENTS, CallTracker, TrackerSettings  # noqa: E402
from callguard.watchdog.carry import Carried, encode  # noqa: E402
from tests.fake_ami import FakeAmi, lab_events, parse  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
TEMPLATE = "call-01-answered-callee-hangs-up"
CALLED = "Local/201@callee-00000001;1"
UNIQUE_PREFIX = "1795326250."
HOLD_S = 1.5  # a steady call's end comes this long after its start


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


# --- the calls --------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """call-01 cut in three: set-up, the called side's end, and the held calling legs."""

    setup: list[str]
    end: list[str]  # its last event is the called party's Hangup
    held: list[str]

    @classmethod
    def load(cls) -> Template:
        events = lab_events(TEMPLATE)
        fields = [parse(e) for e in events]
        cut = next(i for i, f in enumerate(fields)
                   if f.get("Event") == "Hangup" and f.get("Channel") == CALLED)
        start = next(i for i, f in enumerate(fields)
                     if f.get("Event") == "SoftHangupRequest" and "callee" in f.get("Channel", ""))
        held = [e for e, f in zip(events[cut + 1:], fields[cut + 1:], strict=True)
                if f.get("Channel")]
        return cls(events[:start], events[start:cut + 1], held)

    @staticmethod
    def rewrite(messages: list[str], i: int) -> list[str]:
        """Call i's own ids and channel names (two Local pairs per call)."""
        swaps = (("fakephone-00000000", f"fakephone-{2 * i:08x}"),
                 ("callee-00000001", f"callee-{2 * i + 1:08x}"),
                 (UNIQUE_PREFIX, f"{1_800_000_000 + i}."))
        out = []
        for message in messages:
            text = message
            for old, new in swaps:
                text = text.replace(old, new)
            out.append(text)
        return out


def linkedid(i: int) -> str:
    return f"{1_800_000_000 + i}.0"


def call_of(channel: str) -> int:
    return int(channel.rsplit("-", 1)[1].split(";", 1)[0], 16) // 2


def caller(i: int) -> str:
    """The leg that ran AGI() and Dial() (the lab's ;1 half of the originated call)."""
    return f"Local/long@fakephone-{2 * i:08x};1"


def callee(i: int) -> list[str]:
    return [f"Local/201@callee-{2 * i + 1:08x};1", f"Local/201@callee-{2 * i + 1:08x};2"]


def follow_value(i: int) -> str:
    value = encode(Carried(f"d{i}", "predictive", 25.0, "Utah Code 13-25a-103(5)(e)",
                           "bench", "+18015550100", "bench-node"))
    assert value is not None
    return value


# --- the fake Asterisk, timing both ends ---------------------------------------------------


@dataclass
class TimedAmi(FakeAmi):
    ended_at: dict[int, float] = field(default_factory=dict)
    first_action: dict[int, float] = field(default_factory=dict)
    last_action: dict[int, float] = field(default_factory=dict)
    gone_at: dict[int, float] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # held calling legs not yet hung up
    left: dict[int, int] = field(default_factory=dict)  # call -> its legs still up

    async def _action(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        received = time.monotonic()
        await super()._action(writer, action)
        if action.get("Action", "").lower() != "hangup":
            return
        call = call_of(action.get("Channel", ""))
        self.first_action.setdefault(call, received)
        self.last_action[call] = received
        channel = action.get("Channel", "")
        if channel in self.waiting:
            self.waiting.discard(channel)
            self.left[call] -= 1
            if not self.left[call]:
                self.gone_at[call] = time.monotonic()

    def hold_call(self, i: int, messages: list[str]) -> None:
        self.hold(messages)
        channels = {parse(m).get("Channel", "") for m in messages}
        self.waiting |= channels
        self.left[i] = len(channels)
        for channel in [caller(i), *callee(i)]:  # what the gate's MSet and Dial() set
            self.set_variable(channel, VAR_FOLLOW, follow_value(i))
        self.applications[caller(i)] = "Dial"
        self.applications[callee(i)[0]] = "AppDial"

    async def end(self, i: int, messages: list[str]) -> None:
        await self.send(messages[:-1])
        self.ended_at[i] = time.monotonic()
        self.applications[caller(i)] = "Wait"  # Dial(...,g) returned; the leg lives on
        self.variables[(caller(i), "DIALSTATUS")] = "ANSWER"
        await self.send(messages[-1:])


# --- the watchdog process ------------------------------------------------------------------


async def node(port: int, known_until: float | None) -> None:
    """The watchdog side: follow what the calls carry; report line-release records on
    stdin EOF, and the moment of every picture (its CLOCK_MONOTONIC) as it happens."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    records: list[dict[str, object]] = []
    risks = 0

    def report(name: str, **fields: object) -> None:
        nonlocal risks
        if name == "line-release":
            records.append(fields)
        elif name == "violation-risk":
            risks += 1

    def rebuilt(followed: int) -> None:
        print(json.dumps({"rebuilt": time.monotonic(), "followed": followed}), flush=True)

    tracker = CallTracker(TrackerSettings(grace_s=0.0), report)
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port), "test-secret", tracker,
                           on_rebuilt=rebuilt)
    await watchdog.start(known_until=known_until)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await watchdog.aclose()
    releases = [float(r["release_ms"]) for r in records  # type: ignore[arg-type]
                if r.get("ended_by") == "called-party"]
    print(json.dumps({"release_ms": releases, "records": len(records), "risks": risks,
                      "within_limit": sum(1 for r in records if r.get("within_limit")),
                      "upper_bound": sum(1 for r in records
                                         if r.get("release_ms_is_upper_bound"))}))


async def spawn(port: int, known_until: float | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--node", str(port),
        "" if known_until is None else repr(known_until), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=None if os.environ.get("BENCH_DEBUG") else asyncio.subprocess.DEVNULL)  # its logs


async def next_picture(proc: asyncio.subprocess.Process) -> dict[str, float]:
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the watchdog process ended before its first picture")
        if line.startswith(b'{"rebuilt"'):
            return json.loads(line)


async def summary(proc: asyncio.subprocess.Process) -> dict[str, object]:
    out, _ = await proc.communicate(b"")
    lines = [ln for ln in out.decode().splitlines() if ln.startswith('{"release_ms"')]
    return json.loads(lines[-1])


# --- one run ----------------------------------------------------------------------------


@dataclass
class Result:
    load: str
    filtered: bool
    calls: int
    action_first: list[float]
    action_last: list[float]
    gone: list[float]
    release_ms: list[float]
    released: int
    risks: int
    cpu_s: float


async def run(load: str, filtered: bool, calls: int, rate: float) -> Result:
    template = Template.load()
    fake = TimedAmi(only_events=frozenset(USED_EVENTS) if filtered else None,
                    channelvars=(VAR_FOLLOW,))
    port = await fake.start()
    proc = await spawn(port)
    await next_picture(proc)
    cpu_before = cpu_seconds(proc.pid)
    for i in range(calls):
        fake.hold_call(i, template.rewrite(template.held, i))

    async def at(when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    t0 = time.monotonic()
    if load == "steady":
        timeline = sorted([(t0 + i / rate, 0, i) for i in range(calls)]
                          + [(t0 + i / rate + HOLD_S, 1, i) for i in range(calls)])
        for when, is_end, i in timeline:
            await at(when)
            if is_end:
                await fake.end(i, template.rewrite(template.end, i))
            else:
                await fake.send(template.rewrite(template.setup, i))
    else:
        for i in range(calls):  # set-up, paced; not timed
            await at(t0 + i / 500)
            await fake.send(template.rewrite(template.setup, i))
        await asyncio.sleep(2.5)  # past the 2 s abandonment judgement of every call
        t1 = time.monotonic()
        for i in range(calls):  # every call ends within one second
            await at(t1 + i / calls)
            await fake.end(i, template.rewrite(template.end, i))
    deadline = time.monotonic() + 10
    while len(fake.gone_at) < calls and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    cpu = cpu_seconds(proc.pid) - cpu_before
    done = await summary(proc)
    await fake.close()

    def since_end(times: dict[int, float]) -> list[float]:
        return [(times[i] - fake.ended_at[i]) * 1000 for i in times if i in fake.ended_at]

    return Result(load, filtered, calls, since_end(fake.first_action),
                  since_end(fake.last_action), since_end(fake.gone_at),
                  done["release_ms"], len(fake.gone_at), int(done["risks"]), cpu)


def show(results: list[Result]) -> None:
    goal = {"steady": 50.0, "burst": 250.0}
    print(f"{'load':<7}{'filter':<8}{'calls':>6}{'released':>9}  "
          f"{'to 1st Hangup action p50/p99/max ms':>36}  {'to line free p50/p99/max ms':>28}  "
          f"{'node release_ms p99':>19}  {'CPU ms/call':>11}  goal p99")
    for r in results:
        a, g, rel = percentiles(r.action_first), percentiles(r.gone), percentiles(r.release_ms)
        ok = "met" if g[1] <= goal[r.load] else "MISSED"
        print(f"{r.load:<7}{'on' if r.filtered else 'off':<8}{r.calls:>6}{r.released:>9}  "
              f"{a[0]:>11.2f} /{a[1]:>8.2f} /{a[2]:>8.2f}      "
              f"{g[0]:>7.2f} /{g[1]:>7.2f} /{g[2]:>8.2f}  {rel[1]:>19.2f}  "
              f"{r.cpu_s * 1000 / r.calls:>11.3f}  <= {goal[r.load]:.0f} ms {ok}"
              + (f"  risks={r.risks}" if r.risks else ""))
    by = {(r.load, r.filtered): r for r in results}
    for load in ("steady", "burst"):
        on, off = by.get((load, True)), by.get((load, False))
        if on and off and on.cpu_s:
            print(f"{load}: watchdog CPU unfiltered / filtered = {off.cpu_s / on.cpu_s:.2f}x; "
                  f"p99 to line free unfiltered / filtered = "
                  f"{percentiles(off.gone)[1] / percentiles(on.gone)[1]:.2f}x")


@dataclass
class RestartResult:
    calls: int
    ending: int
    to_followed_ms: float
    followed: int
    gone: list[float]  # release latency of the calls whose called party hung up meanwhile
    upper_bound: int
    risks: int


async def restart_run(calls: int, ending: int) -> RestartResult:
    """kill -9 of the watchdog with ``calls`` calls up; ``ending`` of them end meanwhile."""
    template = Template.load()
    fake = TimedAmi(only_events=frozenset(USED_EVENTS), channelvars=(VAR_FOLLOW,))
    port = await fake.start()
    first = await spawn(port)
    await next_picture(first)
    for i in range(calls):
        fake.hold_call(i, template.rewrite(template.held, i))
    t0 = time.monotonic()
    for i in range(calls):  # set-up, paced; not timed
        delay = t0 + i / 500 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await fake.send(template.rewrite(template.setup, i))
    await asyncio.sleep(2.5)  # answered, bridged, judged
    last_watching = time.monotonic()
    first.kill()  # SIGKILL: nothing is flushed, nothing said to Asterisk
    await first.wait()
    restarted = time.monotonic()
    second = await spawn(port, known_until=last_watching)

    async def end_some() -> None:
        for k in range(ending):
            delay = restarted + 0.6 * k / ending - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await fake.end(k, template.rewrite(template.end, k))

    ender = asyncio.create_task(end_some())
    picture = await next_picture(second)
    await ender
    deadline = time.monotonic() + 15
    while len(fake.gone_at) < ending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    done = await summary(second)
    await fake.close()
    gone = [(fake.gone_at[i] - fake.ended_at[i]) * 1000 for i in fake.gone_at]
    return RestartResult(calls, ending, (picture["rebuilt"] - restarted) * 1000,
                         int(picture["followed"]), gone, int(done["upper_bound"]),
                         int(done["risks"]))


def show_restart(results: list[RestartResult]) -> None:
    print(f"{'restart':<8}{'calls':>6}{'ending':>7}  {'start -> all followed ms':>24}"
          f"{'followed':>9}  {'released':>8}  {'release of those p50/p99/max ms':>31}  "
          f"{'upper-bound':>11}  goal")
    for r in results:
        g = percentiles(r.gone)
        ok = "met" if r.to_followed_ms <= 2000 and r.followed == r.calls else "MISSED"
        print(f"{'':<8}{r.calls:>6}{r.ending:>7}  {r.to_followed_ms:>24.0f}{r.followed:>9}  "
              f"{len(r.gone):>8}  {g[0]:>9.0f} /{g[1]:>7.0f} /{g[2]:>7.0f}      "
              f"{r.upper_bound:>11}  <= 2000 ms {ok}" + (f"  risks={r.risks}" if r.risks else ""))


async def main(args: argparse.Namespace) -> None:
    only = set(args.only.split(","))
    results = []
    steady_calls = int(args.seconds * args.rate)
    if "steady" in only:
        for filtered in (True, False):  # alternating, so drift in the machine hits both
            results.append(await run("steady", filtered, steady_calls, args.rate))
    if "burst" in only:
        for filtered in (True, False)[: 1 if "on-only" in only else 2]:
            results.append(await run("burst", filtered, args.burst, args.rate))
    if results:
        show(results)
    if "restart" in only:
        show_restart([await restart_run(args.restart, args.restart_ending)])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--node":
        asyncio.run(node(int(sys.argv[2]), float(sys.argv[3]) if sys.argv[3] else None))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="steady load duration")
    parser.add_argument("--rate", type=float, default=100.0, help="steady calls per second")
    parser.add_argument("--burst", type=int, default=1000, help="calls ending within 1 s")
    parser.add_argument("--restart", type=int, default=1000, help="calls up at the restart")
    parser.add_argument("--restart-ending", type=int, default=100,
                        help="calls whose called party hangs up during the restart")
    parser.add_argument("--only", default="steady,burst,restart", help="which loads")
    asyncio.run(main(parser.parse_args()))
