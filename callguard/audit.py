"""The compliance record: one structlog event per decision, numbers never in clear.

A pipeline of small processors (structlog's contract): ``protect_numbers`` replaces
every ``number`` field by an HMAC-SHA-256 keyed hash plus the last four digits;
``TimeStamper`` adds the UTC instant the record was written. Tests capture the
events with ``structlog.testing.capture_logs()``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson
import structlog

from callguard.compliance.sinks import FanOut, StdoutSink
from callguard.decision import Decision
from callguard.stores.writes import (
    AddCompanyDnc,
    AddConsent,
    EndEbr,
    RecordEbr,
    RecordWrite,
    RevokeConsent,
)

__all__ = ["ComplianceLog", "NumberProtector", "configure_logging", "load_log_key"]


def load_log_key(data_dir: Path) -> bytes:
    """The hashing key: ``CALLGUARD_LOG_KEY`` (hex), or a 0600 key file made on first use."""
    env = os.environ.get("CALLGUARD_LOG_KEY")
    if env:
        return bytes.fromhex(env) if all(c in "0123456789abcdefABCDEF" for c in env) else (
            env.encode())
    path = data_dir / "log.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


class NumberProtector:
    """Processor: ``number`` becomes ``number_hash`` (keyed) and ``number_last4``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @property
    def key_id(self) -> str:
        """8 hex naming the key (not revealing it): records carry it, lookups compare it."""
        return hmac.new(self._key, b"callguard key id", hashlib.sha256).hexdigest()[:8]

    def hash(self, e164: str) -> str:
        """The keyed hash a supervisor can match with the same key."""
        return hmac.new(self._key, e164.encode(), hashlib.sha256).hexdigest()

    def __call__(
        self, logger: Any, name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        number = event_dict.pop("number", None)
        if number is not None:
            text = str(number)
            event_dict["number_hash"] = self.hash(text)
            event_dict["number_last4"] = text[-4:] if len(text) >= 4 else ""
        return event_dict


def configure_logging(key: bytes) -> None:
    """One processor pipeline for every event; operational events go to stderr."""
    structlog.configure(
        processors=[
            NumberProtector(key),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="logged_at"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        logger_factory=structlog.BytesLoggerFactory(file=sys.stderr.buffer),
        cache_logger_on_first_use=False,
    )


class ComplianceLog:
    """Writes one record per decision (and per record change) through the pipeline.

    The bound logger is built once per structlog configuration (re-bound when the
    processors change, e.g. under ``capture_logs()``), not on every record.
    """

    def __init__(self, sink: FanOut | None = None, *, node: str = "") -> None:
        self._sink = sink or FanOut([StdoutSink()])
        self._node = node or socket.gethostname()
        self._processors: object = None
        self._bound: Any = None

    def _logger(self) -> Any:
        processors = structlog.get_config()["processors"]
        if processors is not self._processors:
            self._processors = processors
            self._bound = structlog.wrap_logger(
                self._sink, logger_name="callguard.compliance").bind(node=self._node)
        return self._bound

    def record(self, decision: Decision) -> None:
        """Write the decision's compliance record."""
        self._logger().info("decision", **decision.to_dict())

    def journal(self, write: RecordWrite, changed: int) -> None:
        """Write that a consent/EBR/DNC record changed (no evidence, number hashed)."""
        fields: dict[str, Any] = {"action": write.action, "solicitor": write.solicitor,
                                  "number": write.number, "changed": changed}
        match write:
            case AddConsent(record=record, source=source):
                fields.update(kind=record.kind.value, source=source,
                              expires_at=record.expires_at.isoformat()
                              if record.expires_at else None)
            case RevokeConsent(kind=kind, source=source):
                fields.update(kind=kind.value, source=source)
            case AddCompanyDnc(source=source) | EndEbr(source=source):
                fields.update(source=source)
            case RecordEbr():
                pass
        self._logger().info("record", **fields)

    def event(self, name: str, **fields: Any) -> None:
        """A later record of a call (line released, caller ID seen), same decision id."""
        self._logger().info(name, **fields)
