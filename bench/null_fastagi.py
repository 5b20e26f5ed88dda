"""A null FastAGI server: callguard's own transport and command exchange, no decision.

Same FastAgiServer, same header parsing, same one ``EXEC MSet`` with the same variables;
its gate returns one prebuilt ALLOW decision without parsing, policy, stores or log. The
difference between it and ``callguard serve`` is what deciding costs.

Run: python bench/null_fastagi.py PORT
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime

from callguard.config import load_settings
from callguard.decision import Decision, new_decision_id
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.numbers import NumberParser
from callguard.policy import Verdict
from callguard.tuning import raise_mmap_threshold


class NullGate:
    """Answers every request with the same ALLOW."""

    def __init__(self) -> None:
        settings = load_settings()
        campaign = settings.campaigns["ut-solar-manual"]
        verdict = Verdict(allowed=True, deciding=None, outcomes=(), packs=(),
                          reason="Allowed: 14 rules of us-federal, us-ut, us-ut-hb45-2000 hold.")
        self._decision = Decision(
            decision_id=new_decision_id(), verdict=verdict, at=datetime.now(UTC),
            number=NumberParser().parse("8015550123"), raw_number="8015550123",
            campaign=campaign, campaign_id=campaign.id, mode=campaign.default_mode,
            front="fastagi", latency_us=0.0)

    async def check(self, request: object) -> Decision:
        return self._decision


async def main(port: int) -> None:
    settings = load_settings()
    fastagi = replace(settings.fastagi, port=port, max_sessions=10_000)
    server = FastAgiServer(NullGate(), fastagi)  # type: ignore[arg-type]
    await server.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    raise_mmap_threshold()
    asyncio.run(main(int(sys.argv[1])))
