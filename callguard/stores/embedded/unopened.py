"""Call-frequency counts whose file could not be opened at start: refused, not fatal.

``frequency.sqlite3`` damaged (not a database), locked past the busy timeout by another
process, unwritable, its ``frequency.id`` unreadable, or a write-back its compliance log
cannot prove: the opening raised, and ``serve`` refused to start while every record
command (``internal-dnc add``, ``consent add``) exited 3 — an opt-out (47 CFR
64.1200(d)(3)) could not be recorded because the caps' file was broken. Now the runtime
opens with this in the counts' place: every count and reservation is refused (the gate
BLOCKs each call a cap covers, ``callguard:store-unavailable``, as for a lost file), every
other call and every record write is served, and the file is opened again off the loop,
at a use at most every ``RETRY_S``: a lock another process held passes, a file put right
is taken up without a restart. Nothing is counted meanwhile, so no count is lost twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from callguard.errors import StoreError
from callguard.policy.frequency import FrequencyClaim, FrequencyResult, Held
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.interfaces import CountAfter, FrequencyStore

__all__ = ["RETRY_S", "UnopenedFrequency"]

_log = structlog.get_logger("callguard.frequency")

RETRY_S = 10.0  # between openings tried again (each may wait out a busy timeout)


class UnopenedFrequency:
    """The counts' place while their file cannot be opened (module doc)."""

    def __init__(self, opener: Callable[[], FrequencyStore], reason: str, *,
                 retry_s: float = RETRY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reason = reason  # why the last opening failed
        self._opener = opener
        self._retry_s = retry_s
        self._clock = clock
        self._next = clock() + retry_s
        self._store: FrequencyStore | None = None
        self._trying: asyncio.Task[None] | None = None
        self._closed = False
        _log.error("call-frequency-counts-unopened", reason=reason,
                   effect="every call a cap covers is BLOCKed until the file opens; "
                          "the node serves the rest and records opt-outs")

    def _opened(self) -> FrequencyStore:
        """The store once opened; else StoreError (an opening tried again, in the
        background, when one is due: this call does not wait for it)."""
        if self._store is not None:
            return self._store
        if (self._trying is None and not self._closed
                and self._clock() >= self._next):
            self._trying = asyncio.get_running_loop().create_task(self._try())
        raise StoreError(f"call-frequency counts could not be opened ({self.reason}): "
                         "every call a cap covers is BLOCKed until they can be")

    async def _try(self) -> None:
        try:
            store = await asyncio.to_thread(self._opener)
        # Any failure, not only a StoreError: one the opening does not wrap (a PRAGMA's
        # sqlite3.Error, no thread to start) left ``_next`` where it was, so every capped
        # call started another opening at once (each may hold a connection it leaked), and
        # no one retrieved the task's exception (hrev89).
        except Exception as exc:  # noqa: BLE001
            self.reason = str(exc) if isinstance(exc, StoreError) else (
                f"{type(exc).__name__}: {exc}")
            self._next = self._clock() + self._retry_s
            return
        finally:
            self._trying = None
        if self._closed:
            await store.aclose()
            return
        self._store = store
        _log.warning("call-frequency-counts-opened", detail="counted again from now on")

    def refusing(self) -> str | None:
        """Why every count is refused, or None: /readyz's ``frequency_counts``. Asking
        also schedules an opening when one is due: a node a balancer stopped sending calls
        to (not ready) would otherwise never try again."""
        try:
            store = self._opened()
        except StoreError as exc:
            return str(exc)
        return store.refusing() if isinstance(store, EmbeddedFrequency) else None

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None, *,
                      recorded: bool = True) -> FrequencyResult:
        """The store's, once opened; StoreError until then (a capped call BLOCKed)."""
        if not claims:
            return FrequencyResult((), (), None)
        return await self._opened().reserve(e164, claims, at, stamp, recorded=recorded)

    async def reserve_all(self, batch: Sequence[CountAfter]
                          ) -> list[FrequencyResult | BaseException]:
        try:
            store = self._opened()
        except StoreError as exc:
            return [exc if claims else FrequencyResult((), (), None)
                    for _, claims, _, _ in batch]
        return await store.reserve_all(batch)

    async def release(self, e164: str, held: Held) -> int:
        """Nothing was reserved here before it opened: StoreError (the count stays)."""
        return await self._opened().release(e164, held)

    async def count(self, e164: str, claims: Sequence[FrequencyClaim],
                    at: datetime) -> tuple[int, ...]:
        if not claims:
            return ()
        return await self._opened().count(e164, claims, at)

    async def aclose(self) -> None:
        """Wait for an opening under way, close what it opened."""
        self._closed = True
        trying = self._trying
        if trying is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(trying)
        if self._store is not None:
            await self._store.aclose()
