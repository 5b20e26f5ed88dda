"""Verdicts the gate gives when no pack can judge: bad input, errors, timeouts.

Every one is a BLOCK: callguard fails closed (ARCHITECTURE.md, rules of the house).
"""

from __future__ import annotations

from callguard.policy.outcome import Outcome, PackApplication, Status, Verdict

__all__ = [
    "BAD_LOCATION",
    "FAIL_CLOSED",
    "INTERNAL_ERROR",
    "NOT_DIALABLE",
    "NO_PACK",
    "STORE_UNAVAILABLE",
    "UNKNOWN_CAMPAIGN",
    "UNKNOWN_MODE",
    "UNKNOWN_PACK",
    "refusal",
]

FAIL_CLOSED = "callguard house rule: fail closed"
NOT_DIALABLE = "callguard:number-not-dialable"
UNKNOWN_CAMPAIGN = "callguard:unknown-campaign"
UNKNOWN_MODE = "callguard:unknown-mode"
UNKNOWN_PACK = "callguard:unknown-pack"
NO_PACK = "callguard:no-pack"  # no enacted law's pack covers the call: fail closed
BAD_LOCATION = "callguard:bad-location"
STORE_UNAVAILABLE = "callguard:store-unavailable"
INTERNAL_ERROR = "callguard:internal-error"
UNWATCHED = "callguard:line-release-unwatched"


def refusal(
    rule_id: str,
    citation: str,
    reason: str,
    *,
    packs: tuple[PackApplication, ...] = (),
) -> Verdict:
    """A BLOCK decided before (or instead of) the packs' rules."""
    outcome = Outcome(rule_id, citation, Status.BLOCK, reason, 0)
    return Verdict(
        allowed=False,
        deciding=outcome,
        outcomes=(outcome,),
        packs=packs,
        reason=f"Blocked by {rule_id}: {reason} ({citation}).",
    )
