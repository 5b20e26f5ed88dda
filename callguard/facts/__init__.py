"""Facts as plug-ins: a table from fact kind to the function that fetches it, and its store.

The policy core never reads a store: a rule that needs a fact answers
``NeedFacts({FactKind.X})`` and the gate fetches it through this table, then asks again.
The gate knows no fact kind by name; it iterates the registry (``fetch_facts``).

Adding a fact kind (e.g. a wireless-number list) is three steps, none in the gate:

1. name it: a member of ``callguard.policy.FactKind`` (policy vocabulary, pure) — and, when
   its fetch *writes* (counts a call), add it to ``callguard.policy.model.RESERVING`` so
   the engine asks for it only when every other rule allowed the call;
2. write the fetcher in a module of this package and register it::

       from callguard.facts.registry import register_fact

       @register_fact(FactKind.WIRELESS, store="attributes")
       async def wireless(store: AttributeLists, plan: Plan, facts: Facts) -> Facts:
           value = await store.line_type(plan.attempt.number.national)
           return dataclasses.replace(
               facts, values={**facts.values, FactKind.WIRELESS: value})

   The fetcher gets the store named ``store``, the call's ``Plan`` and the facts so far,
   and returns the facts with its value added (in ``Facts.values`` under its kind, where its
   rules read it); it raises ``StoreError`` when the store cannot answer (the gate BLOCKs,
   citing ``callguard:store-unavailable``);
3. import the module below, and give the gate the store under that name
   (``Gate(..., stores={"attributes": ...})``, wired in ``callguard.runtime``).

A kind asked for but not registered, or whose store the node lacks, is a StoreError: BLOCK.
"""

from callguard.facts import frequency, records
from callguard.facts.registry import (
    FactFetcher,
    FactSource,
    fact_source,
    fetch_facts,
    register_fact,
    registered,
)

__all__ = [
    "FactFetcher",
    "FactSource",
    "fact_source",
    "fetch_facts",
    "frequency",
    "records",
    "register_fact",
    "registered",
]
