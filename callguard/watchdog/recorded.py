"""The number's digest of a decision, found in the compliance log by decision id: this
node's file, then the shared Redis Stream.

After a full restart the watchdog follows calls again from the ``CALLGUARD_FOLLOW`` they
carry (``carry.py``), which holds no number. The decision record does: its
``number_hash`` is the log key's HMAC of the number's E.164 form — exactly the digest
``CallTracker`` compares dial strings and ``DIALEDPEERNUMBER`` values with when the
tracker is given the same key (``NumberProtector.hash``). So the record answers
``FindNumber``.

How it reads: never the whole log. A decision id is a UUIDv7 (``decision.new_decision_id``)
whose first 48 bits are the instant of the decision, so the record lies between the end
of the log and that instant (less the reader's clock margin); the walk goes newest first
and stops there (``reader.decisions_newest_first``), or when every id asked is found, or
at the tracker's wait (``number_lookup_s``). It runs in a thread: the event loop never
reads a file. The requests of one moment (every call of a picture) share one walk.

The stream (``[log] redis_stream``), for what the file cannot hold: records on stdout only
(``[log] file = "-"``), or a call another node decided (a takeover). Read oldest first
from the decision's instant less the clock margin (stream ids are the Redis server's
milliseconds at ``XADD``, never before the record was made but for clock skew), ``XRANGE``
two hundred entries a round trip (the reply is parsed on the loop: short holds), a line
parsed only when its ``decision_id`` bytes name an id asked; it stops when every id is
found, at the stream's end, or at the same wait as the file walk (what the file walk used
of it is spent). Not ``read_stream_newest``:
newest first reads every record added since the decision before reaching it — on a busy
stream, a call followed an hour later is past the wait — where oldest first from the
decision reaches it after about a clock margin's worth of entries (a minute of records),
unless the node's stream sender was behind (Redis down: it queues and sends later).

What it accepts: a decision record with that id, ``ALLOW``, under this node's key
(``key_id``: a hash under another key can match nothing), of a parsed number, for the same
Linkedid (a channel that inherited another call's variable must not lend it that call's
number). Anything else, or nothing in time, answers None: the tracker then does what it did
without the number.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from callguard.compliance.reader import (
    CLOCK_MARGIN,
    KNOWN_SCHEMAS,
    Record,
    decisions_newest_first,
    parse_line,
    stream_id,
    stream_pages,
)

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = ["Deliver", "RecordedNumbers", "decided_at"]

Deliver = Callable[[str, str, str | None], None]  # linkedid, decision id, number hash
_log = structlog.get_logger("callguard.watchdog")
_HEX = frozenset("0123456789abcdef")
_HAND_OVER_S = 0.0002  # the walker's sleep between two looks at ``stop``
# Stream entries a round trip. Their reply is parsed on the event loop: 1,000 records
# (~1.2 MB) held it 8-17 ms at a time; 200 hold it ~2 ms, the walk as fast (hrev12).
_STREAM_BATCH = 200
_DECISION_EVENT = b'"event":"decision"'
_DECISION_ID = b'"decision_id":"'


def decided_at(decision_id: str) -> datetime | None:
    """The instant a UUIDv7 decision id was made (its first 48 bits, Unix milliseconds);
    None for anything else (nothing bounds where its record is)."""
    try:
        value = uuid.UUID(decision_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


class RecordedNumbers:
    """Looks up decisions' number digests in the compliance log at ``path``."""

    def __init__(self, path: Path | None, key_id: str, *, wait_s: float, max_age_s: float,
                 clock: Callable[[], float] = time.time,
                 stream: tuple[aioredis.Redis, str] | None = None) -> None:
        self.path = path  # None: records on stdout only (the stream, if any, is read)
        self.stream = stream  # (client, key) of the shared stream, or None
        self.key_id = key_id
        self.wait_s = wait_s
        self.max_age_s = max_age_s  # no call is followed longer: the walk's farthest bound
        self._clock = clock
        self._pending: dict[str, list[tuple[str, Deliver]]] = {}
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def find(self, linkedid: str, decision_id: str, deliver: Deliver) -> None:
        """Ask for the digest; ``deliver`` is called once, on the event loop."""
        if self._closed or decided_at(decision_id) is None:
            deliver(linkedid, decision_id, None)
            return
        self._pending.setdefault(decision_id, []).append((linkedid, deliver))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def aclose(self) -> None:
        """No more walks; one under way stops at its next look at ``stop``."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        """One walk per batch; requests made meanwhile wait for the next."""
        await asyncio.sleep(0)  # the other requests of this moment join the batch
        while self._pending and not self._closed:
            batch, self._pending = self._pending, {}
            await self._walk(batch)

    async def _walk(self, batch: dict[str, list[tuple[str, Deliver]]]) -> None:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.wait_s
        floor = datetime.fromtimestamp(self._clock() - self.max_age_s, UTC)
        since = max(floor, min(decided_at(i) or floor for i in batch))

        def answer(record: Record) -> None:
            for linkedid, deliver in batch.pop(str(record.get("decision_id")), []):
                deliver(linkedid, str(record.get("decision_id")),
                        self._accepted(record, linkedid))

        def stop() -> bool:
            # Asked every few thousand lines (~3 ms of reading): a short sleep hands the
            # GIL to the event loop. A thread that reads in short steps re-takes the GIL
            # after each read(2) before the waiting loop thread runs, and CPython's
            # take_gil asks for a forced switch only when no switch happened in its 5 ms
            # wait: without this the loop ran 2-3 times in a 0.3 s walk.
            time.sleep(_HAND_OVER_S)
            return self._closed or time.monotonic() > deadline

        def walk() -> None:
            assert self.path is not None
            for record in decisions_newest_first(self.path, list(batch), since, stop=stop):
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    loop.call_soon_threadsafe(answer, record)

        if self.path is not None:
            try:
                await asyncio.to_thread(walk)
            except Exception as exc:  # noqa: BLE001 - a damaged segment: the tracker goes on
                _log.warning("watchdog_number_lookup_failed", error=type(exc).__name__,
                             reason=str(exc)[:200], decisions=len(batch),
                             effect="followed without the number, as before the lookup")
            await asyncio.sleep(0)  # the answers the thread scheduled run first
        if batch and self.stream is not None and not self._closed:
            try:
                await self._stream_walk(batch, since, deadline, answer)
            except TimeoutError:
                pass  # the wait is over: not found in time, as a walk stopped at it
            except Exception as exc:  # noqa: BLE001 - Redis away: the tracker goes on
                _log.warning("watchdog_number_lookup_failed", error=type(exc).__name__,
                             reason=str(exc)[:200], decisions=len(batch), where="stream",
                             effect="followed without the number, as before the lookup")
        for decision_id, waiting in batch.items():
            for linkedid, deliver in waiting:
                deliver(linkedid, decision_id, None)

    async def _stream_walk(self, batch: dict[str, list[tuple[str, Deliver]]],
                           since: datetime, deadline: float,
                           answer: Callable[[Record], None]) -> None:
        """The decision records of ``batch`` in the shared stream, oldest first from
        ``since`` less the clock margin, until all are found, the stream ends, or
        ``deadline`` (see the module)."""
        assert self.stream is not None
        client, key = self.stream
        pages = stream_pages(client, key, stream_id(since - CLOCK_MARGIN),
                             batch=_STREAM_BATCH)
        try:
            while batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    entries = await asyncio.wait_for(anext(pages), left)
                except StopAsyncIteration:
                    return  # the stream's end
                for _, fields in entries:
                    line = fields.get(b"r", b"")
                    start = line.find(_DECISION_ID)
                    if start < 0 or _DECISION_EVENT not in line:
                        continue
                    start += len(_DECISION_ID)
                    if line[start:line.find(b'"', start)].decode("ascii", "replace") not in (
                            batch):
                        continue
                    record = parse_line(line)
                    if (record is not None and record.get("event") == "decision"
                            and record.get("schema", 0) in KNOWN_SCHEMAS):
                        answer(record)
        finally:
            await pages.aclose()

    def _accepted(self, record: Record, linkedid: str) -> str | None:
        """The record's ``number_hash`` when it can be compared with (see the module)."""
        number_hash: Any = record.get("number_hash")
        if (record.get("verdict") != "ALLOW" or record.get("key_id") != self.key_id
                or record.get("number_parsed") is False or record.get("linkedid") != linkedid
                or not isinstance(number_hash, str) or len(number_hash) != 64
                or not set(number_hash) <= _HEX):
            return None
        return number_hash
