"""The compliance log (the product's proof) and operational logging, kept apart.

``ComplianceLog`` encodes each record itself (``callguard.compliance.record``: schema 1,
numbers only as keyed hashes) and hands it to its own writer thread
(``callguard.compliance.writer``); structlog's global configuration, test helpers such
as ``capture_logs()`` and log levels never touch a record. Tests inject a capturing
target (``callguard.compliance.testing.CapturingTarget``) instead.

``configure_logging`` sets up operational logging only (stderr, JSON): start-up,
warnings, errors.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
import structlog

from callguard.compliance.logkey import NumberProtector, load_log_key
from callguard.compliance.record import RecordEncoder, utc_ms
from callguard.compliance.writer import RecordWriter
from callguard.decision import Decision
from callguard.logredact import redact_event
from callguard.stores.writes import RecordWrite

__all__ = ["ComplianceLog", "NumberProtector", "configure_logging", "load_log_key"]


class SparingBytesLogger(structlog.BytesLogger):
    """An operational line that cannot be written is dropped and counted, never raised:
    stderr on a full disk (ENOSPC) — the data disk, full exactly when records fail — or a
    closed pipe must not turn a call's BLOCK into a front's 500 or no answer at all. The
    compliance record has its own writer, which fails closed; these lines are best effort.
    """

    dropped = 0  # lines lost since the process started (all loggers)

    def msg(self, message: bytes) -> None:
        """Write *message*; on OSError (or a closed file's ValueError) count it instead of
        raising."""
        try:
            super().msg(message)
        except (OSError, ValueError):
            SparingBytesLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _NoStderr:
    """Where lines go in a process started with no stderr at all (descriptor 2 closed:
    Python's ``sys.stderr`` is None, and ``sys.stderr.buffer`` raised AttributeError from
    every log call — ``check`` exited 3 saying nothing, a node's call path raised)."""

    def write(self, data: bytes) -> int:
        """Refuse, so the line is counted as dropped."""
        raise OSError(errno.EBADF, "no stderr")

    def flush(self) -> None:
        """Nothing to flush."""


def _stderr_logger(*_: Any) -> SparingBytesLogger:
    """A logger over stderr as it is now (a test may replace it), or none if it is gone."""
    buffer = getattr(sys.stderr, "buffer", None)
    return SparingBytesLogger(buffer if buffer is not None else _NoStderr())  # type: ignore[arg-type]


def configure_logging(key: bytes) -> None:
    """Operational events (not compliance records) go to stderr as JSON lines."""
    structlog.configure(
        processors=[
            NumberProtector(key),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="logged_at"),
            structlog.processors.format_exc_info,
            redact_event,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


class ComplianceLog:
    """One record per decision, per record change and per call event; whole or not at all."""

    def __init__(self, encoder: RecordEncoder, writer: RecordWriter) -> None:
        self.encoder = encoder
        self.writer = writer
        self.packs_written_on: date | None = None  # UTC day of the last packs-loaded record

    @property
    def protector(self) -> NumberProtector:
        """The keyed hash the records use."""
        return self.encoder.protector

    async def record(self, decision: Decision) -> None:
        """Write the decision's record; return once durable; raise RecordWriteError."""
        await self.writer.write(self.encoder.decision(decision))

    async def packs_loaded(self) -> None:
        """Write which packs this node judges calls with (``event: packs-loaded``), durable
        on return: ``serve`` (and each ``check`` and ``scrub``) before its first decision,
        and ``serve`` again each UTC day, since a decision record names only the packs
        that applied to it."""
        await self.writer.write(self.encoder.packs_loaded())
        self.packs_written_on = datetime.now(UTC).date()

    async def store_adopted(self, *, backend: str, store_id: str,
                            previous_backend: str | None, previous_id: str | None,
                            records: int) -> None:
        """Write that the record store is one this data dir had not served from (``event:
        store-adopted``), durable on return: before this node's first decision."""
        await self.writer.write(self.encoder.store_adopted(
            backend=backend, store_id=store_id, previous_backend=previous_backend,
            previous_id=previous_id, records=records))

    async def journal(self, write: RecordWrite, changed: int) -> None:
        """Write that a consent/EBR/DNC record changed (no evidence, number hashed)."""
        await self.writer.write(self.encoder.journal(write, changed))

    def event(self, name: str, **fields: Any) -> None:
        """A later record of a call (line released, caller ID seen), same decision id."""
        self.writer.post(self.encoder.event(name, fields))

    def purged(self, *, cutoff: datetime, retention_days: int, removed: Mapping[str, int],
               deleted: Mapping[str, int] | None = None, dry_run: bool = False) -> None:
        """The record a purge leaves of itself (``event: purge``): what it destroyed, zero
        where nothing was (``destroyed`` false then: a record of the run, not of a loss)."""
        parts = dict(deleted or {})
        self.writer.post(self.encoder.event("purge", {
            "cutoff": utc_ms(cutoff.timestamp()), "retention_days": retention_days,
            "removed": dict(removed), "deleted": parts,
            "destroyed": not dry_run and any((*removed.values(), *parts.values())),
            "dry_run": dry_run}))

    async def aclose(self) -> None:
        """Write what is queued and close the file."""
        await self.writer.aclose()
