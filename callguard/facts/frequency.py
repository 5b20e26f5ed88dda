"""Call-frequency caps as a fact: the atomic check-and-reserve of every claim of the call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from callguard.facts.registry import register_fact
from callguard.policy import FactKind, Facts, Plan
from callguard.policy.rules import frequency_claims
from callguard.stores.interfaces import FrequencyStore

__all__ = ["FREQUENCY"]

FREQUENCY = "frequency"  # the store name: the node's FrequencyStore


@register_fact(FactKind.FREQUENCY, store=FREQUENCY)
async def reserve(store: FrequencyStore, plan: Plan, facts: Facts) -> Facts:
    """Check every cap and count the call when all hold (StoreError: nothing counted, or
    not known to be; the gate BLOCKs either way)."""
    attempt = plan.attempt
    claims = frequency_claims(plan.rules, attempt)
    result = await store.reserve(attempt.number.e164, claims, attempt.at)
    values: Mapping[FactKind, object] = {**facts.values, FactKind.FREQUENCY: result}
    return replace(facts, values=values)
