"""Decisions per second per core through the gate (embedded store), beside baselines.

Run: .venv/bin/python bench/bench_gate.py [--decisions N]

All figures come from one process in one run, so they are comparable on a noisy,
shared 2-core machine: quote ratios, not absolute numbers.

- baseline ``phonenumbers``: parse + is_valid_number + time zones of each number, the
  cost every decision would pay without the NPA-NXX fast path.
- ``gate, compliance log to file``: the whole decision as a front sees it — parse,
  plan, list lookups, company-DNC read from SQLite, policy, JSON record appended.
- ``gate, no log``: the same with the record writer replaced by a no-op (what the log
  adds is the difference).
- ``policy only``: plan + decide on pre-parsed attempts with pre-gathered facts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy import CallAttempt, FactKind, Facts, ListCheck
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(7)
    n = args.decisions
    numbers = make_numbers(n, rng)
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
    settings = load_settings(data_dir=data_dir)
    runtime = open_runtime(settings)
    gate = runtime.gate
    # A Wednesday 11:00 in Denver: inside every window, so every rule runs.
    day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    at = datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver"))
    requests = [CheckRequest(num, "ut-solar-manual", at=at) for num in numbers]

    def baseline() -> None:
        for number in numbers:
            parsed = phonenumbers.parse(number, "US")
            phonenumbers.is_valid_number(parsed)
            pn_timezone.time_zones_for_number(parsed)

    async def through_gate() -> None:
        for request in requests:
            await gate.check(request)

    # Warm the NPA-NXX table and holiday calendars once, as a running node would be.
    asyncio.run(through_gate())
    results = [timed("baseline: phonenumbers parse+validate+zones", n, baseline)]
    results.append(timed("gate, compliance log to file", n, lambda: asyncio.run(through_gate())))
    gate._record = lambda _d: None  # noqa: SLF001 - measure the gate without its log
    results.append(timed("gate, no log", n, lambda: asyncio.run(through_gate())))

    policy = settings.policy()
    parsed = [settings.parser().parse(num) for num in numbers]
    campaign = settings.campaigns["ut-solar-manual"]
    plans = [policy.plan(CallAttempt(p, campaign, campaign.default_mode, at)) for p in parsed]
    facts = [Facts(lists={name: ListCheck(name, 1, today, False, True)
                          for name in ("national", "ut-state")},
                   fetched=frozenset(FactKind)) for _ in parsed]

    def policy_only() -> None:
        for plan, fact in zip(plans, facts, strict=True):
            policy.decide(plan, fact)

    results.append(timed("policy only (decide, plan prebuilt)", n, policy_only))
    asyncio.run(runtime.aclose())
    base = results[0][1]
    print(f"{n} decisions, Utah manual campaign, all three packs; {len(listed.by_area)} area "
          "codes listed\n")
    print(f"{'what':48} {'per second':>12} {'µs each':>9} {'x baseline':>11}")
    for label, rate in results:
        print(f"{label:48} {rate:12,.0f} {1e6 / rate:9.1f} {rate / base:11.2f}")


if __name__ == "__main__":
    main()
