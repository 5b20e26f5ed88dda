"""Test helpers (public, like ``structlog.testing``): a target that captures records.

Inject it into the real ``RecordWriter`` instead of switching anything off: the records
are encoded, hashed and written exactly as in production, only into memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import orjson

__all__ = ["CapturingTarget"]


class CapturingTarget:
    """Keeps every committed line; ``fail`` (called with the data) may raise OSError."""

    def __init__(self, fail: Callable[[bytes], None] | None = None) -> None:
        self.lines: list[bytes] = []
        self.commits = 0
        self.syncs = 0
        self.fail = fail
        self.closed = False
        self._lock = threading.Lock()

    def commit(self, data: bytes, *, sync: bool) -> None:
        """Keep the lines of ``data``, or raise what ``fail`` raises (keeping nothing)."""
        if self.fail is not None:
            self.fail(data)
        with self._lock:
            self.lines.extend(line + b"\n" for line in data.split(b"\n") if line)
            self.commits += 1
            self.syncs += sync

    def close(self) -> None:
        """Nothing to release."""
        self.closed = True

    @property
    def records(self) -> list[dict[str, object]]:
        """The captured records, parsed."""
        with self._lock:
            return [orjson.loads(line) for line in self.lines]
