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

The counter alone cannot tell a restored store that was written on past the mark (by a
writer with a lower mark: another data dir's CLI, a node down through the restore, a new
data dir) from the newest one. So each write also stores a random id for the counter value
it made, in ``callguard:records-seq-ids`` (the last ``ID_WINDOW`` values kept), and the mark
is (counter, id). Every read returns the store's id for the mark sent beside it, in the
same script: a different id is another history (restored, then rewritten) and the store
is behind, as when the counter is lower. An id the store no longer holds (more than
``ID_WINDOW`` writes since, a store written before ids, a mark file without one) cannot
tell: accepted, as before, except by a node already refusing, which waits for the id it
knows back (the newest backup) or ``records-accept-older``; the mark file says so
(``"refusing": true``), so a restart (or the CLI on that data dir) refuses too once the
store has dropped the id it needed. Not a flag written into Redis
by the first node that notices: a replica promoted after a failed WAIT would carry it and
lock every node out; an id per counter value is true of any copy that holds it.

A mark rises only as far as writes were acknowledged as durable, ``callguard:records-acked``
(``ACKED_KEY``): under ``durability = "aof-always"`` the write's script sets it to the value
it makes (fsynced with it); under ``"replicas"`` it is raised only once ``WAIT`` saw the
write replicated, and a write it could not be raised for is not acknowledged (the nodes
that read it would not notice a restore losing it). A node that read a write whose WAIT
failed, lost in a failover and its counter value then made again by another writer
(another id), would otherwise refuse the promoted replica for good over a write never
promised. Reads compare the counter with the mark (behind: lower), but raise the mark to
``acknowledged``: min(counter, acked). A store without the key (written by the previous
version): the counter, as then.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson

from callguard.errors import StoreError
from callguard.stores.embedded.identity import write_atomically

__all__ = ["ACKED_KEY", "HIGH_WATER_FILE", "IDS_KEY", "ID_WINDOW", "SEQ_KEY", "HighWater",
           "acknowledged", "behind_reason", "check_not_behind", "check_store_not_behind",
           "diverged", "read_high_water", "read_mark", "read_state", "store_counter",
           "store_id", "write_high_water"]

HIGH_WATER_FILE = "records-redis-high-water.json"
SEQ_KEY = "callguard:records-seq"
ACKED_KEY = "callguard:records-acked"  # the highest counter value acknowledged as durable
IDS_KEY = "callguard:records-seq-ids"  # counter value -> the random id of the write that made it
ID_WINDOW = 10_000  # ids kept: the last values of the counter (about 1 MB in Redis)


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


def acknowledged(counter: Any, acked: Any) -> int:
    """The counter value a mark may rise to, as read: the counter, but not past ``ACKED_KEY``
    (the highest value acknowledged as durable); the counter when the store has none (a
    store the previous version wrote) or it is not a number (as before the key)."""
    on_server, raw = store_counter(counter), store_counter(acked)
    return on_server if acked is None or raw < 0 else min(on_server, raw)


def store_id(raw: Any) -> str | None:
    """An id as read from ``IDS_KEY`` (None: the store holds none for that value)."""
    if isinstance(raw, bytes):
        return raw.decode(errors="replace")
    return raw if isinstance(raw, str) else None


def diverged(mine: str | None, on_server: Any) -> bool:
    """Whether the store's id for this node's mark is another one than the node's: the
    store was restored and written past the mark since (another history). Unknown on
    either side: cannot tell (False)."""
    theirs = store_id(on_server)
    return mine is not None and theirs is not None and theirs != mine


def check_not_behind(data_dir: Path, marker: str | None, on_server: Any,
                     at_mark: Any = None) -> None:
    """For a reader that opens the store alone (``internal-dnc show``, ``evidence``): a
    StoreError when the store's counter is below the mark this data dir remembers, or its
    id for the mark (``at_mark``, HGET ``IDS_KEY`` <mark>; None: not read) is another."""
    path = data_dir / HIGH_WATER_FILE
    mark, mark_id, refusing = read_state(path, marker)
    if store_counter(on_server) < mark or diverged(mark_id, at_mark) or (
            refusing and mark_id is not None and store_id(at_mark) != mark_id):
        raise StoreError(f"record store (Redis) cannot be trusted: {behind_reason(path)}")


async def check_store_not_behind(client: Any, data_dir: Path, marker: str | None) -> None:
    """``check_not_behind`` with the store's counter and its id for the mark read here, in
    one transaction (the CLI's readers: they hold no mark of their own while running)."""
    mark, _ = read_mark(data_dir / HIGH_WATER_FILE, marker)
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(SEQ_KEY)
        pipe.hget(IDS_KEY, str(mark))
        on_server, at_mark = await pipe.execute()
    check_not_behind(data_dir, marker, on_server, at_mark)


def read_high_water(path: Path, marker: str | None) -> int:
    """The remembered mark's counter (``read_mark``)."""
    return read_mark(path, marker)[0]


def read_mark(path: Path, marker: str | None) -> tuple[int, str | None]:
    """The remembered mark for the store with ``marker`` and its id ((0, None): none, or
    another store's; id None: a file written before ids, or the store held none);
    StoreError when the file cannot be read or is damaged (fail closed: a damaged mark
    would let an older store through)."""
    seq, seq_id, _ = read_state(path, marker)
    return seq, seq_id


def read_state(path: Path, marker: str | None) -> tuple[int, str | None, bool]:
    """``read_mark`` and whether the node found the store behind when it wrote the file
    (``"refusing"``): held across a restart, which could no longer tell once the store
    dropped the id for the mark."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0, None, False
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot read {path}: {exc.strerror}") from None
    try:
        data = orjson.loads(raw)
        seq, owner, seq_id = data["seq"], data["marker"], data.get("id")
        refusing = data.get("refusing", False)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        seq = owner = seq_id = refusing = None
    if (not isinstance(seq, int) or seq < 0 or not isinstance(owner, str)
            or not (seq_id is None or isinstance(seq_id, str))
            or not isinstance(refusing, bool)):
        raise StoreError(f"record store (Redis): {path} is damaged; restore the newest "
                         "backup of Redis or re-record the changes made since it, then run "
                         "`callguard records-accept-older`")
    return (seq, seq_id, refusing) if owner == marker else (0, None, False)


def write_high_water(path: Path, marker: str, seq: int, seq_id: str | None = None,
                     refusing: bool = False) -> None:
    """Write the mark (and its id, when known; and that the node refuses the store, when
    it does) durably; StoreError when it cannot be."""
    data: dict[str, Any] = {"marker": marker, "seq": seq}
    if seq_id is not None:
        data["id"] = seq_id
    if refusing:
        data["refusing"] = True
    try:
        write_atomically(path, orjson.dumps(data).decode() + "\n")
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot write {path}: {exc.strerror}") from None


def _raise_to(path: Path, marker: str, seq: int, seq_id: str | None,
              refusing: bool | None = None) -> tuple[int, str | None]:
    """Write ``seq`` unless the file holds more (the CLI and serve on one data dir each keep
    their own; neither lowers the other's): the mark written, with its id. ``refusing``:
    set or cleared by a writer that found the store behind or caught up; None keeps the
    file's (another process on the data dir refuses: not cleared by one that never did)."""
    held_refusing = False
    with contextlib.suppress(StoreError):  # damaged: written whole again
        held, held_id, held_refusing = read_state(path, marker)
        if held > seq or (held == seq and seq_id is None):
            seq, seq_id = held, held_id
    write_high_water(path, marker, seq, seq_id,
                     held_refusing if refusing is None else refusing)
    return seq, seq_id


class HighWater:
    """The highest counter this node saw, and its durable copy (one writer at a time, off
    the event loop; callers waiting share the write that covers them)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.marker: str | None = None
        self.known = 0  # the highest counter seen (this node's writes and reads)
        self.known_id: str | None = None  # the store's id for it (None: not known)
        self.saved = 0  # what the file holds
        self.saved_id: str | None = None
        self.refusing = False  # the store found behind (kept in the file: a restart refuses)
        self.saved_refusing = False
        self._writing: asyncio.Task[None] | None = None
        self._error: StoreError | None = None

    def load(self, marker: str | None) -> None:
        """Read the remembered mark of the store this node relies on."""
        self.marker = marker
        if self.path is not None:
            self.known, self.known_id, self.refusing = read_state(self.path, marker)
            self.saved, self.saved_id = self.known, self.known_id
            self.saved_refusing = self.refusing

    def refuse(self, refusing: bool) -> None:
        """The node found the store behind (or caught up again): kept in the file soon."""
        if refusing != self.refusing:
            self.refusing = refusing
            self._keep()

    def seen(self, on_server: int, seq_id: str | None = None) -> None:
        """A counter read from the store that is not behind, and the store's id for it:
        raise the mark (kept soon); a mark held without an id takes the store's."""
        if on_server > self.known or (on_server == self.known and self.known_id is None
                                      and seq_id is not None):
            self.known, self.known_id = on_server, seq_id
            self._keep()

    def adopt(self, seq: int, seq_id: str | None, refusing: bool = False) -> None:
        """The mark as the file now holds it (``records-accept-older``: lowered, or set
        to another history's counter); the node no longer refuses (a refusal the file
        still says, written over the acceptance, is cleared soon)."""
        self.known, self.known_id = self.saved, self.saved_id = seq, seq_id
        self.saved_refusing, self.refusing = refusing, False
        if refusing:
            self._keep()

    def _pending(self) -> bool:
        return self.saved_refusing != self.refusing or self.saved < self.known or (
            self.saved == self.known and self.known_id is not None
            and self.saved_id != self.known_id)

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
        while self._pending():
            value, value_id, refusing = self.known, self.known_id, self.refusing
            said = refusing if refusing or self.saved_refusing else None  # None: no opinion
            try:
                value, value_id = await asyncio.to_thread(_raise_to, self.path, self.marker,
                                                          value, value_id, said)
            except StoreError as exc:
                self._error = exc
                return
            self._error = None
            self.saved_refusing = refusing
            if value >= self.saved:
                self.saved, self.saved_id = value, value_id
            if value > self.known or (value == self.known and self.known_id is None):
                self.known, self.known_id = value, value_id  # another process saw more

    async def flush(self) -> None:
        """Write what is pending (at close); a failure is left to the next start."""
        with contextlib.suppress(StoreError):
            await self.kept(self.known)
            while (self.path is not None and self.marker is not None and self._pending()
                   and self._error is None):  # a refusal not yet kept
                self._keep()
                if self._writing is not None:
                    await asyncio.shield(self._writing)
