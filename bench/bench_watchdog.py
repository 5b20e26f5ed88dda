"""AMI watchdog latency: called party's Hangup event -> our Hangup action -> line released.

Run: .venv/bin/python bench/bench_watchdog.py [--seconds 10] [--rate 100] [--burst 1000]

Asterisk is not packaged here, so Asterisk is the replaying fake manager of the tests
(tests/fake_ami.py, real TCP): every call is the lab's Asterisk 22.10.1 recording call-01
(answered, the called party hangs up, the dialer's ``Dial(...,g)`` keeps the calling legs
up) with its ids and channel names rewritten per call, and the calling legs' recorded
Hangup events are held back until callguard's AMI ``Hangup`` names them. The watchdog
(panoramisk Manager + CallTracker, grace 0, as ``callguard serve`` runs it) is its own
process; it follows every call's Linkedid from the start, as the gate's ALLOW would make it.

Both ends are timed in this process on CLOCK_MONOTONIC: from writing the called party's
Hangup event to receiving the first and the last Hangup action of that call, and to
writing the last calling leg's Hangup event (the line is free; a real Asterisk 22.10.1
took a further 1.4-1.8 ms). The watchdog's own ``release_ms`` (its line-release record)
is reported beside them, with its CPU from /proc/PID/stat.

Two loads, each with the manager's event filter on (only the events the tracker uses, as
asterisk-dialplan/manager-callguard.conf sets) and off (all ~105 events of every call),
side by side: ``steady`` starts ``rate`` calls/s, each ending 1.5 s after it starts;
``burst`` sets up ``burst`` calls, then ends them all within one second.
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

from callguard.watchdog.ami import AmiSettings, AmiWatchdog  # noqa: E402
from callguard.watchdog.calls import (  # noqa: E402
    USED_EVENTS,
    CallTracker,
    Followed,
    TrackerSettings,
)
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


# --- the fake Asterisk, timing both ends ---------------------------------------------------


@dataclass
class TimedAmi(FakeAmi):
    ended_at: dict[int, float] = field(default_factory=dict)
    first_action: dict[int, float] = field(default_factory=dict)
    last_action: dict[int, float] = field(default_factory=dict)
    gone_at: dict[int, float] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # held calling legs not yet hung up
    left: dict[int, int] = field(default_factory=dict)  # call -> its legs still up

    async def _action(self, action: dict[str, str]) -> None:
        received = time.monotonic()
        await super()._action(action)
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

    async def end(self, i: int, messages: list[str]) -> None:
        await self.send(messages[:-1])
        self.ended_at[i] = time.monotonic()
        await self.send(messages[-1:])


# --- the watchdog process ------------------------------------------------------------------


async def node(port: int, calls: int) -> None:
    """The watchdog side: follow every call, report line-release records on stdin EOF."""
    records: list[dict[str, object]] = []
    risks = 0

    def report(name: str, **fields: object) -> None:
        nonlocal risks
        if name == "line-release":
            records.append(fields)
        elif name == "violation-risk":
            risks += 1

    tracker = CallTracker(TrackerSettings(grace_s=0.0), report)
    now = time.monotonic()
    for i in range(calls):
        tracker.follow(Followed(f"d{i}", linkedid(i), "bench", "predictive", 25.0,
                                "Utah Code 13-25a-103(5)(e)", "+18015550100", now))
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=port), "test-secret", tracker)
    await watchdog.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await watchdog.aclose()
    releases = [float(r["release_ms"]) for r in records  # type: ignore[arg-type]
                if r.get("ended_by") == "called-party"]
    print(json.dumps({"release_ms": releases, "records": len(records), "risks": risks,
                      "within_limit": sum(1 for r in records if r.get("within_limit"))}))


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
    fake = TimedAmi(only_events=frozenset(USED_EVENTS) if filtered else None)
    port = await fake.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--node", str(port), str(calls), cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    await asyncio.wait_for(fake.logged_in.wait(), 30)
    await asyncio.sleep(0.5)  # the first CoreShowChannels picture
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
    out, _ = await proc.communicate(b"")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    await fake.close()

    def since_end(times: dict[int, float]) -> list[float]:
        return [(times[i] - fake.ended_at[i]) * 1000 for i in times if i in fake.ended_at]

    return Result(load, filtered, calls, since_end(fake.first_action),
                  since_end(fake.last_action), since_end(fake.gone_at),
                  summary["release_ms"], len(fake.gone_at), summary["risks"], cpu)


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


async def main(args: argparse.Namespace) -> None:
    results = []
    steady_calls = int(args.seconds * args.rate)
    for filtered in (True, False):  # alternating, so drift in the machine hits both
        results.append(await run("steady", filtered, steady_calls, args.rate))
    for filtered in (True, False):
        results.append(await run("burst", filtered, args.burst, args.rate))
    show(results)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--node":
        asyncio.run(node(int(sys.argv[2]), int(sys.argv[3])))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="steady load duration")
    parser.add_argument("--rate", type=float, default=100.0, help="steady calls per second")
    parser.add_argument("--burst", type=int, default=1000, help="calls ending within 1 s")
    asyncio.run(main(parser.parse_args()))
