"""The table from fact kind to its fetcher and the store it reads (see the package doc)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callguard.errors import StoreError
from callguard.policy import FactKind, Facts, Plan

__all__ = ["FactFetcher", "FactSource", "fact_source", "fetch_facts", "register_fact",
           "registered"]

# (the store named by the registration, the call's plan, the facts so far) -> the facts
# with this kind's value added. Raises StoreError when the store cannot answer.
FactFetcher = Callable[[Any, Plan, Facts], Awaitable[Facts]]


@dataclass(frozen=True, slots=True)
class FactSource:
    """How one fact kind is fetched: from which named store, by which function."""

    kind: FactKind
    store: str
    fetch: FactFetcher


_SOURCES: dict[FactKind, FactSource] = {}
_ORDER = tuple(FactKind)  # the fetch order (iterating the enum each call is a cost)
# The registrations of a set of kinds, in the fetch order: a plan asks for one of a few sets
# (its prefetch, then what its rules asked for), so each is ordered once. Emptied when a
# kind is registered.
_ORDERED: dict[frozenset[FactKind], tuple[FactSource, ...]] = {}


def register_fact(kind: FactKind, *, store: str) -> Callable[[FactFetcher], FactFetcher]:
    """Decorator: ``fetch`` gathers facts of ``kind`` from the store named ``store``.

    One registration per kind; a second is a programming error (two fetchers would race to
    say what the fact is).
    """
    def register(fetch: FactFetcher) -> FactFetcher:
        if kind in _SOURCES:
            raise RuntimeError(f"fact kind {kind.value!r} is registered twice")
        _SOURCES[kind] = FactSource(kind, store, fetch)
        _ORDERED.clear()
        return fetch
    return register


def registered() -> Mapping[FactKind, FactSource]:
    """Every registered fact kind."""
    return dict(_SOURCES)


def fact_source(kind: FactKind) -> FactSource:
    """The registration of ``kind``; StoreError (the gate BLOCKs) when there is none."""
    source = _SOURCES.get(kind)
    if source is None:
        raise StoreError(f"no fetcher is registered for fact kind {kind.value!r}")
    return source


async def fetch_facts(stores: Mapping[str, object], plan: Plan, facts: Facts,
                      kinds: frozenset[FactKind]) -> Facts:
    """Fetch ``kinds`` in a fixed order (the enum's), each from its registered store."""
    if not kinds:
        return facts
    sources = _ORDERED.get(kinds)
    if sources is None:  # StoreError for a kind nobody registered: never kept
        sources = _ORDERED[kinds] = tuple([fact_source(k) for k in _ORDER if k in kinds])
    for source in sources:
        store = stores.get(source.store)
        if store is None:
            raise StoreError(f"fact kind {source.kind.value!r} needs the {source.store!r} "
                             "store, which this node does not have")
        facts = await source.fetch(store, plan, facts)
    # Positionally, in the field order (lists, consents, ebr, company_dnc, fetched, values):
    # keywords cost ~0.2 µs more a Facts, made several times a decision.
    return Facts(facts.lists, facts.consents, facts.ebr, facts.company_dnc,
                 facts.fetched | kinds, facts.values)
