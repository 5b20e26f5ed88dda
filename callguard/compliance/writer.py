"""The record writer: the event loop appends when it can do so without waiting; a thread
does everything that may wait (a contended lock, fdatasync, rotation, healing a torn tail).

A decision's record is not acknowledged before it is written whole and, by the durability
policy, synced:

- ``none``: write(2) only (the page cache; a power loss can lose the last records). The
  loop appends each line as it is written, one write(2), and answers right after: the
  first line of a turn of the loop takes the ``flock`` (non-blocking) and keeps it until
  the turn is over (``LogFile.append_in_turn``, at most 64 lines a hold); only when the
  lock is contended (another process, or this process's thread) do lines go to the
  thread, and their answers wait for it there.
- ``group``: group commit. The loop appends each turn's lines together and keeps the lock;
  the first line of such a hold asks the thread for one fdatasync, which covers every
  line appended before it (``LogFile.sync_held``); the answers wait for that fdatasync
  only, then the lock is released. Under load the thread first lingers, bounded
  (``_Linger``): while recent holds were joined by lines arriving meanwhile and the event
  loop is at work, it waits up to ``linger_s`` so one fdatasync covers more lines; idle,
  or one call at a time, it syncs at once. Lines that came during that fdatasync get a
  second one, after the same linger (``LogFile.sync_held``'s ``between``). A failed
  fdatasync cuts the hold's lines and BLOCKs their calls. Lines that reach the thread
  (the hold closing, the file busy) become a hold of the thread's that the loop's lines
  join (``_hold_batch``); only when the lock is contended (another process), or the file
  must rotate or heal, are they committed there, a batch then one fdatasync, as before.
- ``every``: one write(2) and one fdatasync per record, in the thread.

A batch is written all or nothing (``LogTarget.commit``). When a batch fails, its records
are retried one by one, so one record too many for a nearly full disk fails alone; a
record that cannot be written raises ``RecordWriteError`` to the one who waits for it
(the gate turns that ALLOW into BLOCK). Records nobody waits for (the watchdog's events)
are written the same way; a failure is logged.

Views (the Redis Stream) get each written line on the event loop after the write
succeeded; they cannot fail a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from callguard.compliance.sinks import DURABILITY, LogFile, LogTarget
from callguard.errors import CallguardError

__all__ = ["RecordWriteError", "RecordWriter"]

_log = structlog.get_logger("callguard.compliance")
View = Callable[[bytes], None]


class RecordWriteError(CallguardError):
    """The compliance record could not be written whole; nothing of it remains."""


@dataclass(slots=True)
class _Item:
    line: bytes
    future: asyncio.Future[None] | None
    loop: asyncio.AbstractEventLoop | None
    error: OSError | None = None


@dataclass(slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


class _Linger:
    """When the writer thread waits before a hold's fdatasync, so that it covers more lines.

    Measured (the writer alone on a real file, an open loop of 1,000 calls/s with 200 µs
    of other work each on the event loop): syncing as soon as a hold began covered 1.3-2
    lines per fdatasync, and each cost ~90-170 µs of the thread's CPU (the kernel's share
    of fdatasync) plus a wake of the thread and one of the loop; lingering, 2.6-2.9 lines
    and ~40 µs less CPU per call, most of it the loop's (``bench/bench_writer.py``). It
    lingers only while lines joined recent holds after they began (calls arrive on their
    own; one call at a time never joins, so it never waits), for ``limit`` seconds in two
    halves: after the first, it syncs at once if no line came and the event loop did no
    work (nothing is coming: every call waits for this sync). Two sleeps at most: a sleep
    costs ~19 µs of CPU on this VM, so polling in short steps would cost more than the
    fdatasyncs it saves. The answers wait for the sync, and the hold keeps the lock: the
    bound is small. It runs before each of a hold's (at most two) fdatasyncs: at most
    ``2 * limit`` in all, and none for one call at a time.
    """

    __slots__ = ("clock", "joined", "limit")

    BUSY = 0.000005  # loop CPU in the first half that counts as "at work" (asleep: none)
    DECAY = 0.75  # weight of the past in ``joined``
    WHEN = 0.2  # ``joined`` from which it lingers

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.joined = 0.0  # moving share of holds that other lines joined
        self.clock: int | None = None  # CPU clock of the loop that began the hold

    def seen(self, joined: bool) -> None:
        """Count a synced hold: whether lines joined it after its first turn."""
        self.joined = self.joined * self.DECAY + (1.0 - self.DECAY) * joined

    def wait(self, lines: Callable[[], int]) -> None:
        """In the writer thread, before the fdatasync: linger while it pays off."""
        clock = self.clock
        if self.limit <= 0 or self.joined < self.WHEN or clock is None:
            return
        half = self.limit / 2
        try:
            used, count = time.clock_gettime(clock), lines()
            time.sleep(half)
            if time.clock_gettime(clock) - used < self.BUSY and lines() == count:
                return
        except OSError:  # the loop's thread is gone: sync now
            return
        time.sleep(half)


def _cpu_clock() -> int | None:
    """The calling thread's CPU clock (None where there is none)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


_STOP = object()
_SYNC = object()  # sync the lines the loop appended under its hold (``LogFile.sync_held``)


def _failure(error: OSError) -> RecordWriteError:
    return RecordWriteError("the compliance record could not be written "
                            f"({error.strerror or type(error).__name__})")


def _no_wakeup_preemption() -> None:
    """SCHED_BATCH for this thread: woken by the event loop, it must not preempt it.

    Measured (``bench/bench_gate.py``, one decision at a time): under the default policy
    the freshly woken writer preempts the event loop on its own CPU, then blocks on the
    GIL the loop holds — ~2.8 involuntary switches of the loop per record. SCHED_BATCH
    (sched(7): no wake-up preemption, same CPU share) lets the loop run on until it waits
    for the record anyway.
    """
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


class RecordWriter:
    """Writes lines through ``target`` in its own thread, by the durability policy."""

    def __init__(self, target: LogTarget, *, durability: str = "group",
                 views: Sequence[View] = (), linger_s: float = 0.002) -> None:
        if durability not in DURABILITY:
            raise ValueError(f"durability {durability!r}; use one of {', '.join(DURABILITY)}")
        self.durability = durability
        self.target = target
        self.views = list(views)
        self.written = 0
        self.failed = 0
        # Why the last line settled was not written (None once one is written again): the
        # node's /readyz says so while every call is BLOCKed for it.
        self.last_error: str | None = None
        self.batches = 0
        self._queue: queue.SimpleQueue[list[_Item] | _Flush | object] = queue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._hold = durability == "group"
        self._now = durability == "none"  # a line is appended at once (``write``)
        self._ending: asyncio.AbstractEventLoop | None = None  # its ``_end_turn`` is due
        self._linger = _Linger(linger_s)
        self._clocks: dict[int, int | None] = {}  # thread ident -> its CPU clock
        self.on_loop = 0  # lines the loop appended itself (the rest went to the thread)

    @property
    def stopped(self) -> bool:
        """Whether the writer thread ended while the log is open: no record will be
        written again until the node restarts (``_put`` refuses every one)."""
        thread = self._thread
        return thread is not None and not thread.is_alive() and not self._closed

    @property
    def target(self) -> LogTarget:
        """Where the lines go (tests put a capturing target in its place)."""
        return self._target

    @target.setter
    def target(self, target: LogTarget) -> None:
        self._target = target
        # The loop's own append (a log file; ``every`` syncs each record: the thread's job).
        self._append = (target.try_append if isinstance(target, LogFile)
                        and self.durability == "group" else None)
        self._in_turn = (target.append_in_turn if isinstance(target, LogFile)
                         and self.durability == "none" else None)

    # --- callers (the event loop, or a plain thread) ---------------------------------------

    async def write(self, line: bytes) -> None:
        """Write one line; return once it is written (and synced); raise RecordWriteError."""
        loop = asyncio.get_running_loop()
        if self._now and loop not in self._pending and self._append_at_once(line, loop):
            return
        future: asyncio.Future[None] = loop.create_future()
        self._gather(_Item(line, future, loop), loop)
        await future

    def _append_at_once(self, line: bytes, loop: asyncio.AbstractEventLoop) -> bool:
        """``none``: append the line right away, under the lock the loop keeps for the rest
        of its turn (``LogFile.append_in_turn``); False: the usual way (gathered, then the
        thread if need be).

        Measured (``bench/bench_gate.py``, 16 in flight, CPU per decision): gathering a
        turn's lines into one write(2) saved syscalls but cost each answer a future and a
        suspended task, more than the write(2) it saved; one flock, stat and unlock per
        line cost more still. Under ``group`` the answer waits for the fdatasync anyway:
        the turn's lines stay together.
        """
        append = self._in_turn
        if append is None or self._closed:
            return False
        try:
            began = append(line)
        except OSError:  # rolled back whole: the thread retries it
            return False
        if began is None:
            return False
        if began or self._ending is not loop:  # a hold whose loop ended unturned, too
            self._ending = loop
            loop.call_soon(self._end_turn, loop)
        self.on_loop += 1
        self.written += 1
        self.last_error = None  # written again: /readyz stops probing beside the log
        for view in self.views:
            try:
                view(line)
            except Exception:  # noqa: BLE001 - a view never fails a record
                _log.exception("compliance_view_failed")
        return True

    def _end_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        """After the turn: release the lock ``append_in_turn`` kept (now, or next turn)."""
        target = self._target
        if isinstance(target, LogFile) and not target.end_turn():
            loop.call_soon(self._end_turn, loop)
        elif self._ending is loop:
            self._ending = None

    def post(self, line: bytes) -> None:
        """Write one line nobody waits for (a failure is logged, never raised)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._put([_Item(line, None, None)])
        else:
            self._gather(_Item(line, None, loop), loop)

    def _gather(self, item: _Item, loop: asyncio.AbstractEventLoop) -> None:
        """Records made in one turn of the event loop are written together: one flock,
        write(2) and unlock per turn on the loop (measured: one per record cost more CPU
        than the thread it saves), or one wake-up of the thread when it must write."""
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._hand_over, loop)
        pending.append(item)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop, None)  # None: aclose handed them over already
        if items and not self._append_now(items):
            self._put(items)

    def _append_now(self, items: list[_Item]) -> bool:
        """On the loop: append the turn's lines if that needs no wait; False: the thread
        must (the lock is contended, the file must rotate or heal, or the write failed —
        rolled back whole — so that the thread retries each line on its own).

        ``none``: the records are written and settled here. ``group``: they wait for the
        thread's fdatasync of the hold (``_sync_hold`` settles them)."""
        if self._closed or (self._append is None and self._in_turn is None):
            return False
        data = items[0].line if len(items) == 1 else b"".join(i.line for i in items)
        loop = items[0].loop
        try:
            if self._in_turn is not None:
                began = self._in_turn(data)
                if began is not None and loop is not None and (began or self._ending is not loop):
                    self._ending = loop
                    loop.call_soon(self._end_turn, loop)
            else:
                assert self._append is not None
                began = self._append(data, hold=True, waiter=items)
        except OSError:
            return False
        if began is None:
            return False
        self.on_loop += len(items)
        if not self._hold:
            self._settle(items)
        elif began:
            ident = threading.get_ident()
            if ident not in self._clocks:
                self._clocks[ident] = _cpu_clock()
            self._linger.clock = self._clocks[ident]
            self._put(_SYNC)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything handed over so far is written (not on the event loop)."""
        if self._thread is None:
            return True
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the thread, close the target (blocking)."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)
        if isinstance(self.target, LogFile):  # a hold the loop began as the thread stopped
            self._sync_hold()
        self.target.close()

    async def aclose(self, timeout: float = 10.0) -> None:
        """``close`` in a worker thread, so the event loop keeps running meanwhile.

        Records posted in this turn of the loop are handed over first: the thread would
        otherwise close the log before the loop gets round to them."""
        self._hand_over(asyncio.get_running_loop())
        await asyncio.to_thread(self.close, timeout)

    def _put(self, items: list[_Item] | object) -> None:
        thread = self._thread
        if thread is None:
            self._start()
        elif not thread.is_alive():  # never wait for a thread that is gone
            error = RecordWriteError("the compliance record could not be written "
                                     "(the record writer stopped)")
            if not isinstance(items, list):  # a hold to sync: never on the loop
                threading.Thread(target=self._sync_hold, daemon=True).start()
                return
            for item in items:
                if item.future is not None and not item.future.done():
                    item.future.set_exception(error)
            self.failed += len(items)
            self.last_error = "the record writer stopped"
            return
        self._queue.put(items)

    def _start(self) -> None:
        with self._start_lock:
            if self._closed:
                raise RecordWriteError("the compliance log is closed")
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="compliance-writer",
                                          daemon=True)
                thread.start()
                self._thread = thread

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        _no_wakeup_preemption()
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            batch: list[_Item] = []
            flushes: list[_Flush] = []
            entries = [get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    entries.append(get_nowait())
            stop = sync = False
            for entry in entries:
                if isinstance(entry, list):
                    batch.extend(entry)
                elif isinstance(entry, _Flush):
                    flushes.append(entry)
                elif entry is _SYNC:
                    sync = True
                else:
                    stop = True
            if sync:
                if self._held():  # else a hold already synced (``_hold_batch`` joined it)
                    self._linger.wait(self._appended)
                self._sync_hold()
            if batch and not self._hold_batch(batch):
                self._write_batch(batch)
            for marker in flushes:
                marker.done.set()
            if stop:
                return

    def _hold_batch(self, batch: list[_Item]) -> bool:
        """``group``: append lines handed to the thread as a hold the loop can join, then
        sync it as the loop's own (lingering the same way); False: the usual commit.

        Lines come here when the loop found the hold closing (its last fdatasync running)
        or the thread busy with the file. Committed on their own, each such batch cost an
        fdatasync for one or two lines; as a hold, the lines the loop appends meanwhile
        share it. Waits for the in-process mutex only (the loop holds it for a write),
        never for the lock (contended, a rotation or a torn tail due, a failed write: the
        usual commit, which waits, heals, rotates or retries each line).
        """
        if self._append is None or self._closed:
            return False
        data = batch[0].line if len(batch) == 1 else b"".join(i.line for i in batch)
        try:
            began = self._append(data, hold=True, waiter=batch, mutex=True)
        except OSError:
            return False
        if began is None:
            return False
        if began:
            self._linger.wait(self._appended)
        self._sync_hold()  # joined the loop's hold (its sync is queued): sync it now
        return True

    def _write_batch(self, batch: list[_Item]) -> None:
        try:
            self._commit(batch)
        except Exception as exc:  # noqa: BLE001 - a bug must fail records, not hang them
            _log.exception("compliance_writer_error")
            failure = OSError(errno.EIO, f"record writer error ({type(exc).__name__})")
            for item in batch:
                item.error = item.error or failure
        self._finish(batch)

    def _linger_between(self) -> None:
        """Before a hold's second fdatasync (lines came during the first): linger too."""
        self._linger.wait(self._appended)

    def _held(self) -> bool:
        return isinstance(self.target, LogFile) and self.target.held

    def _appended(self) -> int:
        return self.target.appended if isinstance(self.target, LogFile) else 0

    def _sync_hold(self) -> None:
        """The loop's hold: one fdatasync for every line of it, then each answer."""
        assert isinstance(self.target, LogFile)
        waiters, error = self.target.sync_held(self._linger_between)
        self.batches += bool(waiters)
        items = [item for batch in waiters if isinstance(batch, list) for item in batch]
        if waiters:
            self._linger.seen(len(waiters) > 1)
        if error is not None:
            for item in items:
                item.error = error
        if items:
            self._finish(items)

    def _commit(self, batch: list[_Item]) -> None:
        self.batches += 1
        if self.durability == "every":
            for item in batch:
                self._commit_one(item)
            return
        try:
            data = batch[0].line if len(batch) == 1 else b"".join(i.line for i in batch)
            self.target.commit(data, sync=self.durability == "group")
        except OSError as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for item in batch:  # the batch was rolled back whole: now each on its own
                self._commit_one(item)

    def _commit_one(self, item: _Item) -> None:
        try:
            self.target.commit(item.line, sync=self.durability != "none")
        except OSError as exc:
            item.error = exc
        except Exception as exc:  # noqa: BLE001 - a bug fails this record, not the thread
            _log.exception("compliance_writer_error")
            item.error = OSError(errno.EIO, f"record writer error ({type(exc).__name__})")

    def _finish(self, batch: list[_Item]) -> None:
        """Hand the results back to each waiting loop (one wake-up per loop and batch)."""
        loop = batch[0].loop
        if all(item.loop is loop for item in batch):  # the usual case: one event loop
            groups = [(loop, batch)]
        else:
            by_loop: dict[asyncio.AbstractEventLoop | None, list[_Item]] = {}
            for item in batch:
                by_loop.setdefault(item.loop, []).append(item)
            groups = list(by_loop.items())
        for target, items in groups:
            if target is None:
                self._count(items)
                self._report(items)
                continue
            try:
                target.call_soon_threadsafe(self._settle, items)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                self._count(items)
                self._report(items)

    def _count(self, items: list[_Item]) -> None:
        for item in items:
            if item.error is None:
                self.written += 1
                self.last_error = None
            else:
                self.failed += 1
                self.last_error = item.error.strerror or type(item.error).__name__

    def _report(self, items: list[_Item]) -> None:
        for item in items:
            if item.error is not None:
                _log.error("compliance_record_not_written",
                           error=item.error.strerror or type(item.error).__name__)

    def _settle(self, items: list[_Item]) -> None:
        """On the event loop: resolve the waiters, then feed the views the written lines."""
        self._count(items)
        for item in items:
            error = item.error
            future = item.future
            if error is not None:
                failure = _failure(error)
                if future is None:
                    _log.error("compliance_record_not_written", error=str(failure))
                elif not future.done():
                    future.set_exception(failure)
                continue
            if future is not None and not future.done():
                future.set_result(None)
            for view in self.views:
                try:
                    view(item.line)
                except Exception:  # noqa: BLE001 - a view never fails a record
                    _log.exception("compliance_view_failed")
