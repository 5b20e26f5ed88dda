"""Where compliance records go: a rotating file (or stdout), and a capped Redis Stream.

The file (or stdout) is the record of truth. A batch of whole lines at a time is appended,
all of it or none (a short write or an error is rolled back with ``ftruncate`` to the size
before it, and the calls of that batch are BLOCKed): by the event loop when it can without
waiting (``LogFile.try_append``: a non-blocking lock), else by the record writer's thread
(``callguard.compliance.writer``), which also does every fdatasync.

The lock: several processes may append to one file (``serve`` and one-shot ``check``).
Every appender, rotation and ``close_segment`` take an EXCLUSIVE ``flock`` on
``<file>.lock``, and hold it only for one batch: write(2), the fdatasync the durability
policy asks for (under ``group``, the hold of ``try_append`` lasts until the thread's
``sync_held``: one or two fdatasyncs, each after a linger of at most 2 ms under load), and a
rotation's rename — under ``durability = "none"`` the loop's turn (``append_in_turn``:
its lines, at most 64, then released once the loop turns), an fdatasync (~0.2-2 ms on
ordinary disks) otherwise. Nothing
else may hold it longer: a purge or an archiver works on closed segments (rotated files,
which no writer touches again once the rename is done) and takes the lock only to close
the current segment (``close_segment``: one rename). The loop only tries the lock; the
thread waits for it, so a holder delays answers, never the event loop.

The Redis Stream is the supervisors' live view of every node. With a log file it is fed
FROM the file, from a durable cursor (``stream_cursor.LogStreamSender``: nothing the file
holds is left unsent unsaid). With stdout (``file = "-"``) ``RedisStreamSink`` here: the
lines, after the write succeeded, are queued and sent in pipelined batches by a background
task; when Redis is away the queue holds up to ``queue_max`` records and then counts what
it drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import stat
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.compliance.segments import closed_segments, fsync_path, stamp_name

__all__ = ["DURABILITY", "LogFile", "LogSettings", "LogTarget", "RedisStreamSink",
           "StreamTarget", "close_segment", "exclusive", "flocked", "lock_path", "rotated_files",
           "write_all"]

_log = structlog.get_logger("callguard.compliance")

DURABILITY = ("none", "group", "every")
_HEAL_WINDOW = 1 << 16  # a record is far shorter: a torn tail is looked back at this a time
# ``append_in_turn``: lines one hold of the loop's turn covers at most, so that a loop that
# never yields still lets another process have the lock between holds.
_TURN_LINES = 64


@dataclass(frozen=True, slots=True)
class LogSettings:
    """``[log]``: the compliance log's sinks, durability and retention."""

    file: str = ""  # a path; "-" for stdout; "": <data_dir>/compliance.jsonl
    rotate_mb: int = 100
    retention_days: int = 1830
    # "none": write(2) only; "group": one fdatasync per batch, each answer waits for its
    # batch's; "every": one fdatasync per record. README "The compliance log" has figures.
    durability: str = "group"
    redis_stream: bool = False
    stream_key: str = "callguard:compliance"
    stream_maxlen: int = 1_000_000
    node: str = ""  # this node's name in every record; "": the host name


class LogTarget(Protocol):
    """Where the record writer's thread puts whole lines."""

    def commit(self, data: bytes, *, sync: bool) -> None:
        """Write all of ``data`` (and fdatasync when ``sync``) or none of it, then raise."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


def write_all(fd: int, data: bytes) -> None:
    """write(2) until every byte is out; a short write is continued, 0 written is an error."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write(2) wrote nothing")
        view = view[written:]


class StreamTarget:
    """Standard output (a container's log collector): no lock, no rotation, no rollback."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdout.fileno() if fd is None else fd
        self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)

    def commit(self, data: bytes, *, sync: bool) -> None:
        """Write the lines; fdatasync only when stdout is a regular file."""
        write_all(self._fd, data)
        if sync and self._regular:
            os.fdatasync(self._fd)

    def close(self) -> None:
        """Standard output stays open."""


def rotated_files(path: Path) -> list[Path]:
    """The closed segments of ``path``, oldest first: plain ones, and those ``callguard
    archive`` compressed (``.zst``); one per stamp (``segments.closed_segments``)."""
    return [segment.path for segment in closed_segments(path)]


def lock_path(path: Path) -> Path:
    """The lock file beside a log file."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold the log's lock (see the module docstring: only for one rename, never longer)."""
    with flocked(os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)):
        yield


@contextlib.contextmanager
def flocked(fd: int) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the open lock file ``fd`` for the block; close it
    after (the log's lock here, maintenance's ``<log>.maint`` in ``purge``)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _segment_name(path: Path) -> Path:
    return stamp_name(path, datetime.now(UTC))


def close_segment(path: Path) -> Path | None:
    """Rotate the current file now (for purge and the archiver); None when it is empty.

    Writers notice by the inode and reopen; once this returns, no writer appends to the
    returned segment again.
    """
    with exclusive(path):
        try:
            if os.stat(path).st_size == 0:
                return None
        except FileNotFoundError:
            return None
        target = _segment_name(path)
        os.replace(path, target)
        return target


class LogFile:
    """JSON lines appended a batch at a time: whole or not at all, rotated by size."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # os.stat of a str: ~1.4 µs here against ~3.4 for the Path (its os.fspath), once
        # per hold or turn of the loop, so once a record one call at a time
        self._name = os.fspath(path)
        self._max_bytes = max_bytes
        self._lock = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        self._fd = -1
        self._ino = -1
        self._torn = True  # a writer may have died mid-line before we opened the file
        # One process's event loop and writer thread share this file and its lock (a flock
        # belongs to the open file description, so it cannot keep them apart): the mutex
        # does. The loop only ever tries it (``try_append``), never waits for it.
        self._mutex = threading.Lock()
        self._held = False  # the flock is kept: lines appended on the loop await a sync
        self._closing = False  # the held lock is being released: the loop appends no more
        self._unsynced_from = 0  # the size before the first line of the hold
        self._waiters: list[object] = []  # one per line of the hold, in order
        # An fdatasync of the thread's own commit under the hold failed: the hold's lines
        # were in that writeback, so the next fdatasync's success proves nothing of them.
        self._hold_error: OSError | None = None
        self._turn = False  # the hold is ``append_in_turn``'s (``none``): no sync is due
        self._turn_lines = 0  # lines of that hold
        self._turn_size = 0  # the file's size under it (every append under it sets it)
        self.appended = 0  # lines appended by ``try_append`` and ``append_in_turn``
        # False once ``_open`` created the file: its directory entry is not yet durable, so
        # nothing goes in it before the thread's commit syncs the directory (``_sync_entry``)
        self._entry_synced = True
        with self._locked():
            self._open()
            self._sync_entry()  # at start: not yet on any event loop's path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        # O_RDWR: ``try_append`` reads the last byte to see that no torn line ends the file
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            # a new file (first start, after a rotation, after purge or the archiver closed
            # the segment): a power loss could lose its directory entry, and every record
            # in it with it, until the directory is synced
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            self._entry_synced = False
        self._ino = os.fstat(self._fd).st_ino
        self._torn = True

    def _sync_entry(self) -> None:
        """In the writer thread: make a new file's directory entry durable (once)."""
        if not self._entry_synced:
            fsync_path(self.path.parent)
            self._entry_synced = True

    def _size_at_path(self) -> int:
        """The current file's size; reopen first if another process rotated it (or purge
        closed the segment). One stat: under the lock nobody else appends."""
        try:
            status = os.stat(self._name)
            if status.st_ino == self._ino:
                return status.st_size
        except FileNotFoundError:
            pass
        self._open()
        return os.fstat(self._fd).st_size

    def _heal(self) -> None:
        """Cut a torn last line (a writer that died mid-write was never acknowledged)."""
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path, "rb") as reader:
                reader.seek(max(0, size - _HEAL_WINDOW))
                tail = reader.read()
                keep = size
                if not tail.endswith(b"\n"):
                    # The torn tail can be longer than the window (NUL blocks a crash left,
                    # a big batch torn): look further back, a window at a time, so the
                    # next record starts a line of its own and is never glued to it.
                    start = size - len(tail)
                    while (cut := tail.rfind(b"\n")) < 0 and start > 0:
                        start = max(0, start - _HEAL_WINDOW)
                        reader.seek(start)
                        tail = reader.read(_HEAL_WINDOW)
                    keep = start + cut + 1  # 0 when no newline at all: cut == -1
            if keep != size:
                os.ftruncate(self._fd, keep)
                _log.error("compliance_log_torn_tail_removed", file=str(self.path),
                           bytes=size - keep)
        self._torn = False

    def try_append(self, data: bytes, *, hold: bool, waiter: object = None,
                   mutex: bool = False) -> bool | None:
        """On the event loop: append ``data`` now, or return None (then the thread must).

        Never waits: None when the writer thread holds the file, when another process
        holds the lock (``LOCK_EX | LOCK_NB``), when a torn tail must be healed or the file
        must rotate (both left to the thread). A failed write is rolled back and raised.
        ``hold`` (durability ``group``): keep the lock after the write, so nobody appends
        behind lines that are not yet synced and a failed sync can cut them all; the
        writer thread's ``sync_held`` hands back each line's ``waiter`` once synced.
        Returns whether this line began a hold (then its caller asks for ``sync_held``).
        ``mutex``: wait for this process's mutex (the writer thread's own appends; the
        loop's holds it only for a write), never for the lock.
        """
        if not self._mutex.acquire(blocking=mutex):
            return None
        try:
            took = not self._held
            if took:
                start = self._take()
                if start is None:
                    return None
            elif self._closing or self._turn:
                return None
            else:
                start = self._whole_to(os.fstat(self._fd).st_size)
            if not self._append_at(start, data, took):
                return None
            if not hold:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
                return False
            self._waiters.append(waiter)
            if took:
                self._held = True
                self._unsynced_from = start
            return took
        finally:
            self._mutex.release()

    def append_in_turn(self, data: bytes) -> bool | None:
        """On the event loop, durability ``none``: append ``data`` now; None: the thread must
        (as ``try_append``: the thread holds the file, another process the lock, a torn
        tail or a rotation is due). A failed write is rolled back and raised.

        The first line takes the lock and keeps it for the loop's turn (True: call
        ``end_turn`` once the turn is over); the turn's next lines are one write(2) each
        (False), the size known from the last append under the hold. Measured
        (``bench/bench_gate.py``, 16 in flight): the answer right after its own write(2),
        no future and no suspended task, costs less than gathering the turn's lines into
        one write (flock, stat, write, unlock per line cost more than either). At most
        ``_TURN_LINES`` lines a hold: a loop that never yields still lets others in.
        """
        if not self._mutex.acquire(blocking=False):
            return None
        try:
            if self._turn and self._turn_lines >= _TURN_LINES:
                self._end_turn()
            took = not self._held
            start = self._take() if took else self._turn_size if self._turn else None
            if start is None:  # another process has the lock, or a group hold: the thread
                return None
            if not self._append_at(start, data, took):
                return None
            self._turn_size = start + len(data)
            if took:
                self._held = self._turn = True
                self._turn_lines = 0
            self._turn_lines += 1
            return took
        finally:
            self._mutex.release()

    def _take(self) -> int | None:
        """The lock if free (None: not), then the current file's size; a whole last line
        clears ``_torn``."""
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        return self._whole_to(self._size_at_path())

    def _whole_to(self, size: int) -> int:
        """``size``, after clearing ``_torn`` when the file's last byte ends a line."""
        if self._torn and (size == 0 or os.pread(self._fd, 1, size - 1) == b"\n"):
            self._torn = False  # whole lines only: nothing to heal
        return size

    def _append_at(self, start: int, data: bytes, took: bool) -> bool:
        """The loop's write of ``data`` at ``start``; False (the lock released if this
        append ``took`` it) when the thread must: a torn tail to heal, a rotation due. A
        failed write is rolled back whole, the lock released if taken, and raised."""
        if self._torn or not self._entry_synced or start + len(data) >= self._max_bytes:
            if took:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            return False
        try:
            write_all(self._fd, data)
        except OSError:
            self._roll_back(start)
            if took:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            raise
        self.appended += 1
        return True

    def end_turn(self) -> bool:
        """On the event loop: release the lock ``append_in_turn`` kept; False when the
        thread has the file this instant (then try again: the loop never waits)."""
        if not self._mutex.acquire(blocking=False):
            return False
        try:
            self._end_turn()
            return True
        finally:
            self._mutex.release()

    def _end_turn(self) -> None:
        if self._held and self._turn:
            self._held = self._turn = False
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    @property
    def held(self) -> bool:
        """Whether lines await ``sync_held`` (read without the mutex: a hint)."""
        return self._held and not self._turn

    def sync_held(self, between: Callable[[], object] | None = None,
                  ) -> tuple[list[object], OSError | None]:
        """In the writer thread: fdatasync every line ``try_append`` wrote under the held
        lock, then release it. Returns the waiters of those lines and the error, if any.

        One fdatasync covers every line written before it. Lines the loop appends while it
        runs get one more fdatasync, after which the loop appends no more under this hold
        (so the lock is released at least every second fdatasync, and another process can
        have it). ``between`` runs before that second fdatasync, the loop still appending
        (the writer lingers there, so that it covers more lines). A failed fdatasync cuts
        every line of the hold (``ftruncate``): none was acknowledged, and their answers
        are BLOCK.
        """
        error: OSError | None = None
        for _round in range(2):
            with self._mutex:
                if not self._held:
                    break
                if self._hold_error is not None:
                    error = self._hold_error
                    break
                self._closing = _round > 0  # the last round: what comes now waits its turn
                fd, seen = self._fd, self.appended
            try:
                os.fdatasync(fd)
            except OSError as exc:
                error = exc
                break
            with self._mutex:
                if self.appended == seen:
                    break
            if between is not None:
                between()
        with self._mutex:
            waiters, self._waiters = self._waiters, []
            if self._held:
                if error is not None and not self._turn:  # a turn's lines were answered
                    self._roll_back(self._unsynced_from)
                self._held = self._closing = self._turn = False
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._hold_error = None
        return waiters, error

    def commit(self, data: bytes, *, sync: bool) -> None:
        """Append ``data`` (whole lines); on any error truncate back to the size before it."""
        with self._mutex:
            self._commit(data, sync=sync)

    def _commit(self, data: bytes, *, sync: bool) -> None:
        lock = self._lock
        held = self._held  # the loop's hold: the lock is ours already, and stays so
        if held and self._hold_error is not None:  # nothing more behind a failed hold
            raise OSError(self._hold_error.errno, self._hold_error.strerror)
        if not held:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            start = self._size_at_path()
            self._sync_entry()
            if self._torn:
                self._heal()
                start = os.fstat(self._fd).st_size
            try:
                written = os.write(self._fd, data)
                if written != len(data):  # a short write (a limit, a full disk): go on
                    write_all(self._fd, data[written:])
                if sync:
                    self._sync_commit(held)
            except OSError:
                self._roll_back(start)
                raise
            if start + len(data) >= self._max_bytes:
                self._rotate(sync=sync)
            if held and sync:  # that fdatasync covered the hold's lines too
                self._unsynced_from = os.fstat(self._fd).st_size
        finally:
            if not held:
                fcntl.flock(lock, fcntl.LOCK_UN)
            elif self._turn:  # the loop's next line of its turn goes after this one
                self._turn_size = os.fstat(self._fd).st_size

    def _sync_commit(self, held: bool) -> None:
        """The thread's commit's fdatasync; failed under the loop's hold, it fails the hold
        too (its lines were in that writeback: ``_hold_error``)."""
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            if held and not self._turn:
                self._hold_error = exc
            raise

    def _roll_back(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
        except OSError as exc:  # the next commit heals the tail before appending
            self._torn = True
            _log.error("compliance_log_rollback_failed", file=str(self.path),
                       error=exc.strerror or type(exc).__name__)

    def _rotate(self, *, sync: bool) -> None:
        try:
            os.replace(self.path, _segment_name(self.path))
            self._open()
            self._torn = False
            if sync:  # the new directory entry, so the next records are findable
                self._sync_entry()
        except OSError as exc:  # the batch is written; rotation is tried again next time
            _log.error("compliance_log_rotation_failed", file=str(self.path),
                       error=exc.strerror or type(exc).__name__)

    def close(self) -> None:
        """Close the file and the lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


class RedisStreamSink:
    """Queues records and XADDs them in pipelined batches to a capped stream (a log on
    stdout only: a log file feeds the stream through ``stream_cursor.LogStreamSender``)."""

    def __init__(self, client: aioredis.Redis, *, key: str, maxlen: int,
                 queue_max: int = 100_000, batch: int = 512) -> None:
        self._client = client
        self._key = key
        self._maxlen = maxlen
        self._queue: deque[bytes] = deque()
        self._queue_max = queue_max
        self._batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.sent = 0
        self.dropped = 0

    def write(self, record: bytes) -> None:
        """Queue (never blocks, never raises); the oldest waiting record goes when full."""
        if len(self._queue) >= self._queue_max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(record)
        if self._task is not None:
            self._wake.set()

    def start(self) -> None:
        """Start the sender on the running loop."""
        self._task = asyncio.create_task(self._run(), name="compliance-stream")
        if self._queue:
            self._wake.set()

    async def _send(self) -> None:
        while self._queue:
            count = min(len(self._queue), self._batch)
            batch = [self._queue[i] for i in range(count)]
            async with self._client.pipeline(transaction=False) as pipe:
                for record in batch:
                    pipe.xadd(self._key, {"r": record}, maxlen=self._maxlen,
                              approximate=True)
                await pipe.execute()
            for _ in range(count):
                self._queue.popleft()
            self.sent += count

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._send()
                backoff = 0.1
            except RedisError as exc:
                if self._closing:
                    return
                _log.warning("stream_unavailable", error=str(exc), queued=len(self._queue),
                             retry_seconds=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                self._wake.set()
            if self._closing and not self._queue:
                return

    async def aclose(self, timeout: float = 2.0) -> None:
        """Send what is queued (bounded by ``timeout``), then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            _log.warning("stream_unsent", queued=len(self._queue))
        self._task = None
        await self._client.aclose()
