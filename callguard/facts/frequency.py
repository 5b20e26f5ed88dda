"""Call-frequency caps as a fact: the atomic check-and-reserve of every claim of the call,
and the read-only count for a front that places no call (the scrub).

A front a rule does not count is still judged by it: its claims are read (``count``), never
reserved. A scrub run passes a ``ScrubCounts`` in place of the node's store: it reads the
same counts and adds the run's earlier ALLOWed rows of the same number as tentative calls,
held in memory for the run only — a lead file listing one number four times under a cap of
three gets three ALLOWs, and nothing is written for any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime

import structlog

from callguard.facts.registry import register_fact
from callguard.numbers.redact import redact_digits
from callguard.policy import FactKind, Facts, Plan
from callguard.policy.frequency import (
    FrequencyClaim,
    FrequencyResult,
    Held,
    Ledger,
    count_instants,
)
from callguard.stores.interfaces import CountAfter, FrequencyStore

__all__ = ["FREQUENCY", "CountsAfter", "ScrubCounts", "judge"]

FREQUENCY = "frequency"  # the store name: the node's FrequencyStore


_log = structlog.get_logger("callguard.frequency")


class CountsAfter:
    """ALLOWs no cap of their plan reserved for, counted under the loaded caps after the
    answer (``Policy.counted_after``), not waited for.

    Such a count refuses nothing (its claims only record), so the answer does not wait
    for its transaction and fsync: waiting halved the decision rate of a call no cap
    covers and, under load, pushed FastAGI answers past their budget. The counts posted
    within ``LINGER_S`` go to the store together (its group commit: one transaction or
    script, one fsync, for up to its group limit), so each costs its insert, not an fsync.
    A count that fails is logged and counted (``failed``), never turned into a BLOCK: the
    call was under no cap. What is lost then, or in a crash before the count is durable
    (``LINGER_S`` plus the commit), is a call a later cap would not count: the
    under-count this counting exists to prevent, only in those cases."""

    LINGER_S = 0.05

    def __init__(self) -> None:
        self._queued: dict[FrequencyStore, list[CountAfter]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # One task per store and flush (not one per count: a task each cost more than the
        # count's insert), and how many counts each writes.
        self._pending: dict[asyncio.Task[None], int] = {}
        self.posted = 0
        self.failed = 0

    def post(self, store: FrequencyStore, e164: str, claims: Sequence[FrequencyClaim],
             at: datetime, stamp: datetime) -> None:
        """Count the call under ``claims`` (windows ending at ``at``, counted at
        ``stamp``) within ``LINGER_S``."""
        self._queued.setdefault(store, []).append((e164, claims, at, stamp))
        self.posted += 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.LINGER_S, self._flush)

    def _flush(self) -> None:
        self._timer = None
        queued, self._queued = self._queued, {}
        loop = asyncio.get_running_loop()
        for store, batch in queued.items():
            task = loop.create_task(self._write(store, batch))
            self._pending[task] = len(batch)
            task.add_done_callback(self._settled)

    async def _write(self, store: FrequencyStore, batch: list[CountAfter]) -> None:
        # No record carries these rows (it was written before): not provable by the log.
        for outcome in await store.reserve_all(batch):
            if isinstance(outcome, BaseException):
                self._failed(outcome)

    def _settled(self, task: asyncio.Task[None]) -> None:
        count = self._pending.pop(task, 0)
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:  # none of the batch known written
            for _ in range(count):
                self._failed(error)

    def _failed(self, error: BaseException | None) -> None:
        self.failed += 1
        _log.warning("frequency_count_failed", error=redact_digits(str(error or ""))
                     or type(error).__name__, effect="a call no cap covered was not "
                     "counted: a cap that later applies to the number under-counts it")

    @property
    def waiting(self) -> int:
        """Counts posted and not yet settled (queued or being written)."""
        return sum(map(len, self._queued.values())) + sum(self._pending.values())

    async def settle(self) -> None:
        """Write the counts posted so far and wait for them (before the store closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._flush()
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class ScrubCounts:
    """The node's counts as one scrub run sees them: read-only, plus the run's own ALLOWed
    rows as tentative calls (in memory; never stored, gone with the run)."""

    def __init__(self, store: FrequencyStore) -> None:
        self._store = store
        self._rows = Ledger()

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None, *,
                      recorded: bool = True) -> FrequencyResult:
        """A rule that counts the scrub front (``fronts`` names it) reserves for real."""
        return await self._store.reserve(e164, claims, at, stamp, recorded=recorded)

    async def reserve_all(self, batch: Sequence[CountAfter]
                          ) -> list[FrequencyResult | BaseException]:
        """The node's store counts them (a scrub posts none; for the Protocol)."""
        return await self._store.reserve_all(batch)

    async def release(self, e164: str, held: Held) -> int:
        """The node's store gives it back (a scrub places no call: for the Protocol)."""
        return await self._store.release(e164, held)

    async def count(self, e164: str, claims: Sequence[FrequencyClaim],
                    at: datetime) -> tuple[int, ...]:
        """The store's counts alone (the tentative ones are ``tentative``)."""
        return await self._store.count(e164, claims, at)

    def tentative(self, e164: str, claims: Sequence[FrequencyClaim],
                  at: datetime) -> tuple[int, ...]:
        """Earlier ALLOWed rows of this run per claim, in its window."""
        return tuple(_in_window(self._rows, e164, claim, at) for claim in claims)

    def take(self, e164: str, claims: Sequence[FrequencyClaim], at: datetime) -> None:
        """This row is ALLOWed: later rows of the number count it as a call."""
        history = self._rows.calls.setdefault(e164, [])
        history.extend((subject, at) for subject in dict.fromkeys(c.subject for c in claims))

    async def aclose(self) -> None:
        """Nothing of its own to close (the node closes its store)."""


def _in_window(ledger: Ledger, e164: str, claim: FrequencyClaim, at: datetime) -> int:
    after = claim.after_ms(int(at.timestamp() * 1000))
    return sum(1 for subject, when in ledger.calls.get(e164, ())
               if subject == claim.subject and int(when.timestamp() * 1000) > after)


async def judge(store: FrequencyStore, e164: str, counted: Sequence[FrequencyClaim],
                read: Sequence[FrequencyClaim], at: datetime,
                stamp: datetime | None = None) -> FrequencyResult:
    """The read claims judged on the counts read (plus a scrub run's tentative rows); only
    when they all hold are the counted claims reserved (counted at ``stamp``, default
    ``at``). StoreError when a count cannot be read (the gate BLOCKs: fail closed)."""
    if not read:
        return await store.reserve(e164, counted, at, stamp)
    stored = await store.count(e164, read, at)
    run = store if isinstance(store, ScrubCounts) else None
    earlier = run.tentative(e164, read, at) if run is not None else (0,) * len(read)
    totals = tuple(s + t for s, t in zip(stored, earlier, strict=True))
    over = next((i for i, (c, n) in enumerate(zip(read, totals, strict=True))
                 if n >= c.cap), None)
    if over is not None:
        return FrequencyResult(tuple(read), totals, over, earlier)
    reserved = (await store.reserve(e164, counted, at, stamp) if counted
                else FrequencyResult((), (), None))
    refused = None if reserved.refused is None else len(read) + reserved.refused
    if refused is None and run is not None:
        run.take(e164, read, at)  # the scrub decides rows of one number one after another
    return FrequencyResult((*read, *reserved.claims), (*totals, *reserved.counts), refused,
                           (*earlier, *(0,) * len(reserved.claims)), reserved.counted,
                           reserved.held)


@register_fact(FactKind.FREQUENCY, store=FREQUENCY)
async def reserve(store: FrequencyStore, plan: Plan, facts: Facts) -> Facts:
    """Check every cap and count the call when all hold, under every loaded cap's subject
    too (``Plan.reserved``); for a front a rule does not count, read its count instead
    (StoreError: nothing counted, or not known to be; the gate BLOCKs either way)."""
    attempt = plan.attempt
    at, stamp = count_instants(attempt.at, attempt.asked_at, attempt.places_call)
    result = await judge(store, attempt.number.e164, plan.reserved, plan.read, at, stamp)
    values: Mapping[FactKind, object] = {**facts.values, FactKind.FREQUENCY: result}
    return Facts(facts.lists, facts.consents, facts.ebr, facts.company_dnc, facts.fetched,
                 values)  # positionally, as fetch_facts does
