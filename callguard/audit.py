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
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import structlog

from callguard.decision import Decision

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
    """Writes one record per decision to its own sink, through the configured pipeline.

    The bound logger is built once per structlog configuration (re-bound when the
    processors change, e.g. under ``capture_logs()``), not on every record.
    """

    def __init__(self, sink: BinaryIO | None) -> None:
        self._sink = structlog.BytesLogger(sink or sys.stdout.buffer)
        self._processors: object = None
        self._bound: Any = None

    def _logger(self) -> Any:
        processors = structlog.get_config()["processors"]
        if processors is not self._processors:
            self._processors = processors
            self._bound = structlog.wrap_logger(
                self._sink, logger_name="callguard.compliance").bind()
        return self._bound

    def record(self, decision: Decision) -> None:
        """Write the decision's compliance record."""
        fields = decision.to_dict()
        fields.pop("local_times")  # derivable from at + time_zones; keeps the record short
        self._logger().info("decision", **fields)
