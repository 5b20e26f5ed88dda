"""The null benchmarks' gate: one prebuilt ALLOW, no parsing, policy, stores or log.

bench/null_fastagi.py and bench/sip_node.py put it behind the real fronts, so the
difference between them and callguard is what deciding costs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callguard.config import load_settings
from callguard.decision import Decision, new_decision_id
from callguard.numbers import NumberParser
from callguard.policy import Verdict


class NullGate:
    """Answers every request with the same ALLOW."""

    def __init__(self, front: str) -> None:
        campaign = load_settings().campaigns["ut-solar-manual"]
        verdict = Verdict(allowed=True, deciding=None, outcomes=(), packs=(),
                          reason="Allowed: 14 rules of us-federal, us-ut, us-ut-hb45-2000 hold.")
        self._decision = Decision(
            decision_id=new_decision_id(), verdict=verdict, at=datetime.now(UTC),
            number=NumberParser().parse("8015550123"), raw_number="8015550123",
            campaign=campaign, campaign_id=campaign.id, mode=campaign.default_mode,
            front=front, latency_us=0.0)

    async def check(self, request: object, *, budget_s: float | None = None) -> Decision:
        return self._decision
