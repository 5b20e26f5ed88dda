"""Where compliance records go: stdout, a rotating file, a capped Redis Stream.

The file (or stdout) is the record of truth and is written synchronously: if it cannot
be written the gate blocks the call. The Redis Stream is the supervisors' live view of
every node: records are queued and sent in pipelined batches by a background task; when
Redis is away the queue holds up to ``queue_max`` records and then counts what it drops
(the file still has them).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["FanOut", "LogSettings", "RedisStreamSink", "RotatingFileSink", "Sink",
           "StdoutSink", "rotated_files"]

_log = structlog.get_logger("callguard.compliance")


@dataclass(frozen=True, slots=True)
class LogSettings:
    """``[log]``: the compliance log's sinks and retention."""

    file: str = ""  # a path; "-" for stdout; "": <data_dir>/compliance.jsonl
    rotate_mb: int = 100
    retention_days: int = 1830
    redis_stream: bool = False
    stream_key: str = "callguard:compliance"
    stream_maxlen: int = 1_000_000
    node: str = ""  # this node's name in every record; "": the host name


class Sink(Protocol):
    """Takes one rendered record (JSON, no newline)."""

    def write(self, record: bytes) -> None:
        """Write or queue the record; raise when the record of truth cannot be written."""
        ...


class StdoutSink:
    """JSON lines on standard output (a container's log collector picks them up)."""

    def write(self, record: bytes) -> None:
        """One line, flushed."""
        out = sys.stdout.buffer
        out.write(record + b"\n")
        out.flush()


def rotated_files(path: Path) -> list[Path]:
    """The rotated siblings of ``path``, oldest first (their suffix is a UTC stamp)."""
    return sorted(path.parent.glob(path.name + ".*[0-9]Z"))


class RotatingFileSink:
    """JSON lines appended with one write(2) each; rotated by size, safe across processes.

    Several processes (``serve`` and one-shot ``check``) may append to the same file. A
    shared ``flock`` on ``<file>.lock`` is held around each append; rotation and
    ``callguard purge`` take it exclusively, so no record lands in a file being moved or
    rewritten. A writer notices a rotation by the inode and reopens the path.
    """

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._max_bytes = max_bytes
        self._lock = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        self._fd = -1
        self._ino = -1
        self._open()

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._ino = os.fstat(self._fd).st_ino

    def write(self, record: bytes) -> None:
        """Append one line; rotate once the file is past its size."""
        fcntl.flock(self._lock, fcntl.LOCK_SH)
        try:
            try:
                if os.stat(self.path).st_ino != self._ino:
                    self._open()
            except FileNotFoundError:
                self._open()
            os.write(self._fd, record + b"\n")
            full = os.fstat(self._fd).st_size >= self._max_bytes
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
        if full:
            self._rotate()

    def _rotate(self) -> None:
        with exclusive(self.path):
            if os.stat(self.path).st_size >= self._max_bytes:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                os.replace(self.path, self.path.with_name(f"{self.path.name}.{stamp}"))
            self._open()

    def close(self) -> None:
        """Close the file and the lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        os.close(self._lock)


def lock_path(path: Path) -> Path:
    """The lock file beside a log file."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def exclusive(path: Path) -> Any:
    """Hold the log's lock exclusively (rotation, purge)."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class RedisStreamSink:
    """Queues records and XADDs them in pipelined batches to a capped stream."""

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


class FanOut:
    """A structlog logger writing each rendered record to every sink."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def info(self, message: bytes) -> None:
        """structlog calls the method named like the level."""
        for sink in self.sinks:
            sink.write(message)

    msg = info
