"""The Redis record store's high-water mark: a store restored from an older backup is noticed.

The durability marker (``remembered.py``) tells a store that lost its data or was replaced,
but a backup holds the marker too: Redis restarted on an older dump is the same store, and
the do-not-call requests and revocations recorded since the backup are gone without a
trace — a number whose request was lost read as "none" and was ALLOWed (47 CFR
64.1200(d)(3)). So every write batch increments ``callguard:records-seq`` in the script
that writes it (atomic, in the AOF with it), and every read fetches it beside its record.
The node keeps the highest value it saw (``HighWater.known``) and remembers it in its data
dir, ``records-redis-high-water.json`` (with the marker it belongs to; temp + fsync +
rename + directory fsync, in a worker thread; a write's acknowledgement waits for it). A
store whose counter is below that is *behind*: reads and writes are refused (the gate
BLOCKs with the reason), ``records_store_behind`` warning, ``callguard_records_behind``,
``/readyz`` not ready. The counter only goes up in Redis, so a node that was down while
others wrote sees a higher one, never a lower. Restoring the newest backup (the counter
back at or past the mark) clears it; ``callguard records-accept-older`` accepts the store
as it is on this node, recording that it did (event ``records-older-accepted``).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson

from callguard.errors import StoreError
from callguard.stores.embedded.identity import write_atomically

__all__ = ["HIGH_WATER_FILE", "SEQ_KEY", "HighWater", "behind_reason", "check_not_behind",
           "read_high_water", "store_counter", "write_high_water"]

HIGH_WATER_FILE = "records-redis-high-water.json"
SEQ_KEY = "callguard:records-seq"


def behind_reason(remembered_at: Path | None) -> str:
    """The reason a behind store is refused, with the fix and the deliberate way out."""
    where = f" ({remembered_at.name})" if remembered_at is not None else ""
    return ("the Redis record store is older than one this node already used (restored from "
            "an older backup?): a do-not-call request or consent revocation recorded since "
            "may be missing. Restore the newest backup, or re-record the lost changes and "
            "then accept the store as it is with `callguard records-accept-older` on this "
            f"node's data dir{where}")


def store_counter(raw: Any) -> int:
    """The store's record counter as read (None: no write yet, 0); -1 when it is not a
    number (a key something else wrote): never above a mark."""
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return -1


def check_not_behind(data_dir: Path, marker: str | None, on_server: Any) -> None:
    """For a reader that opens the store alone (``internal-dnc show``, ``evidence``): a
    StoreError when the store's counter is below the mark this data dir remembers."""
    path = data_dir / HIGH_WATER_FILE
    mark = read_high_water(path, marker)
    if store_counter(on_server) < mark:
        raise StoreError(f"record store (Redis) cannot be trusted: {behind_reason(path)}")


def read_high_water(path: Path, marker: str | None) -> int:
    """The remembered mark for the store with ``marker`` (0: none, or another store's);
    StoreError when the file cannot be read or is damaged (fail closed: a damaged mark
    would let an older store through)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot read {path}: {exc.strerror}") from None
    try:
        data = orjson.loads(raw)
        seq, owner = data["seq"], data["marker"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        seq = owner = None
    if not isinstance(seq, int) or seq < 0 or not isinstance(owner, str):
        raise StoreError(f"record store (Redis): {path} is damaged; restore the newest "
                         "backup of Redis or re-record the changes made since it, then run "
                         "`callguard records-accept-older`")
    return seq if owner == marker else 0


def write_high_water(path: Path, marker: str, seq: int) -> None:
    """Write the mark durably; StoreError when it cannot be."""
    try:
        write_atomically(path, orjson.dumps({"marker": marker, "seq": seq}).decode() + "\n")
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot write {path}: {exc.strerror}") from None


def _raise_to(path: Path, marker: str, seq: int) -> int:
    """Write ``seq`` unless the file holds more (the CLI and serve on one data dir each keep
    their own; neither lowers the other's): the mark written."""
    with contextlib.suppress(StoreError):  # damaged: written whole again
        seq = max(seq, read_high_water(path, marker))
    write_high_water(path, marker, seq)
    return seq


class HighWater:
    """The highest counter this node saw, and its durable copy (one writer at a time, off
    the event loop; callers waiting share the write that covers them)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.marker: str | None = None
        self.known = 0  # the highest counter seen (this node's writes and reads)
        self.saved = 0  # what the file holds
        self._writing: asyncio.Task[None] | None = None
        self._error: StoreError | None = None

    def load(self, marker: str | None) -> None:
        """Read the remembered mark of the store this node relies on."""
        self.marker = marker
        if self.path is not None:
            self.known = self.saved = read_high_water(self.path, marker)

    def seen(self, on_server: int) -> None:
        """A counter read from the store that is not behind: raise the mark (kept soon)."""
        if on_server > self.known:
            self.known = on_server
            self._keep()

    async def kept(self, upto: int) -> None:
        """Wait until the file holds ``upto`` or more (a write's acknowledgement). A mark
        lowered below ``upto`` meanwhile (``records-accept-older`` while the write waited)
        would never be written: the acknowledgement is refused, not awaited forever."""
        while self.path is not None and self.marker is not None and self.saved < upto:
            if self.known < upto:
                raise StoreError("record store (Redis): this node's mark was lowered (the "
                                 "store accepted as older) while the write was made; not "
                                 "acknowledged")
            self._keep()
            task = self._writing
            if task is not None:
                await asyncio.shield(task)
            if self._error is not None:
                raise self._error

    def _keep(self) -> None:
        if self.path is None or self.marker is None:
            return
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self.path is not None
        assert self.marker is not None
        while self.saved < self.known:
            value = self.known
            try:
                value = await asyncio.to_thread(_raise_to, self.path, self.marker, value)
            except StoreError as exc:
                self._error = exc
                return
            self._error = None
            self.saved = max(self.saved, value)
            self.known = max(self.known, value)  # another process on this data dir saw more

    async def flush(self) -> None:
        """Write what is pending (at close); a failure is left to the next start."""
        with contextlib.suppress(StoreError):
            await self.kept(self.known)
