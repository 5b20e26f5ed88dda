"""Policy cost alone: plan and decide for Utah manual calls, best of several passes.

Run: .venv/bin/python bench/bench_decide.py [LABEL]

For a before/after comparison run it from two trees side by side in the same minutes,
e.g. ``git archive <base> | tar -x -C /tmp/base`` then
``(cd /tmp/base && PYTHONPATH=/tmp/base /path/to/.venv/bin/python bench/bench_decide.py
base)`` alternated with this tree's run; quote the ratio of the bests (the machine is
shared and noisy).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

# This checkout's code, not whichever one the venv was installed from (an A/B of two
# checkouts with one venv would otherwise compare the same code).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callguard.config import load_settings
from callguard.policy import CallAttempt, FactKind, Facts, ListCheck

AREAS = (801, 385, 435, 212, 415, 303, 702, 602)


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "this tree"
    settings = load_settings()
    policy = settings.policy()
    rng = random.Random(1)
    numbers = [f"{rng.choice(AREAS)}{rng.randrange(2000000, 9999999)}" for _ in range(5000)]
    at = datetime(2026, 12, 9, 11, 0, tzinfo=ZoneInfo("America/Denver"))  # a Wednesday
    parsed = [settings.parser().parse(n) for n in numbers]
    campaign = settings.campaigns["ut-solar-manual"]
    plans = [policy.plan(CallAttempt(p, campaign, campaign.default_mode, at)) for p in parsed]
    facts = [Facts(lists={n: ListCheck(n, 1, at.date(), False, True)
                          for n in ("national", "ut-state")},
                   fetched=frozenset(FactKind)) for _ in parsed]
    decide = plan = float("inf")
    for _ in range(15):
        started = time.perf_counter()
        for one, fact in zip(plans, facts, strict=True):
            policy.decide(one, fact)
        decide = min(decide, (time.perf_counter() - started) / len(plans))
    for _ in range(5):
        started = time.perf_counter()
        for number in parsed:
            policy.plan(CallAttempt(number, campaign, campaign.default_mode, at))
        plan = min(plan, (time.perf_counter() - started) / len(parsed))
    print(f"{label}: decide {decide * 1e6:.1f} µs, plan {plan * 1e6:.1f} µs "
          f"(best of 15 and 5 passes over {len(plans)} calls)")


if __name__ == "__main__":
    main()
