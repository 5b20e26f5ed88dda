"""Work per decision counted, not timed: Python calls per decision through the gate.

Run: .venv/bin/python bench/bench_calls.py [--decisions 3000] [--record none|group|off]
     [--top 40]

The gate of ``bench/bench_gate.py`` (the same numbers, lists, campaign and FastAGI-style
requests), 16 in flight, with the FastAGI budget; every request is decided once before
the counted pass (the NPA-NXX memo warm, as on a node that has run a while). cProfile
counts each Python function and builtin called during the counted pass; printed: the
calls per decision of the ``--top`` most called, and the total. Counts do not depend on
the machine's load (timings on the shared 2-core machine do), so a change to the
deciding or recording path can be compared by them first: run it in each checkout
(``cd TREE && PYTHONPATH=TREE .venv/bin/python bench/bench_calls.py``) and compare.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import sys
from dataclasses import replace
from pathlib import Path

# This checkout's code, not whichever one the venv was installed from.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gate import _no_record, _setup

from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.runtime import open_runtime
from callguard.stores.embedded.records import EmbeddedRecords


async def counted(settings, requests, *, record: bool) -> pstats.Stats:
    """Decide every request once (warm), then again under cProfile, 16 in flight."""
    runtime = open_runtime(settings)
    if isinstance(runtime.records, EmbeddedRecords):
        runtime.records.keep_dnc_set()  # as serve does at start
    gate = runtime.gate
    if not record:
        gate._record = _no_record  # noqa: SLF001 - the gate without its record

    async def run() -> None:
        pending = iter(requests)

        async def worker() -> None:
            for request in pending:
                await gate.check(request, budget_s=0.25)

        await asyncio.gather(*(worker() for _ in range(16)))

    await run()
    profile = cProfile.Profile()
    profile.enable()
    await run()
    profile.disable()
    await runtime.aclose()
    return pstats.Stats(profile)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--record", choices=("off", "none", "group"), default="group")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    os.environ.setdefault("CALLGUARD_LOG_KEY", "00" * 32)
    n = args.decisions
    data_dir, numbers, at, _ = _setup(n)
    durability = "none" if args.record == "off" else args.record
    settings = load_settings(data_dir=data_dir)
    settings = replace(settings, log=replace(settings.log, node="dialer-01",
                                             durability=durability))
    requests = [CheckRequest(num, "ut-solar-manual", at=at, front="fastagi",
                             linkedid=f"1764093600.{i}") for i, num in enumerate(numbers)]
    stats = asyncio.run(counted(settings, requests, record=args.record != "off"))
    shutil.rmtree(data_dir, ignore_errors=True)
    table = stats.stats  # type: ignore[attr-defined]  # (file, line, name) -> (cc, nc, ...)
    rows = sorted(((calls, where) for where, (_, calls, *_rest) in table.items()),
                  reverse=True)
    print(f"{n} decisions, record {args.record}: calls per decision")
    for calls, (file, line, name) in rows[:args.top]:
        print(f"{calls / n:8.2f}  {Path(file).name}:{line} {name}")
    print(f"{sum(calls for calls, _ in rows) / n:8.2f}  in all")


if __name__ == "__main__":
    main()
