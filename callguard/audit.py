"""The compliance record: one structlog event per decision, numbers never in clear.

A pipeline of small processors (structlog's contract): ``protect_numbers`` replaces
every ``number`` field by an HMAC-SHA-256 keyed hash plus the last four digits;
``TimeStamper`` adds the UTC instant the record was written. Tests capture the
events with ``structlog.testing.capture_logs()``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from callguard.decision import Decision

__all__ = ["NumberProtector", "configure_audit", "load_log_key", "record_decision"]

_LOG = structlog.get_logger("callguard.compliance")


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


def configure_audit(sink: TextIO | None, key: bytes) -> None:
    """Route compliance records as JSON lines to ``sink`` (None: stdout)."""
    structlog.configure(
        processors=[
            NumberProtector(key),
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="logged_at"),
            structlog.processors.JSONRenderer(serializer=json.dumps),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=sink or sys.stdout),
        cache_logger_on_first_use=True,
    )


def record_decision(decision: Decision) -> None:
    """Write the decision's compliance record."""
    fields = decision.to_dict()
    fields.pop("local_times")  # derivable from at + time_zones; keeps the record short
    _LOG.info("decision", **fields)
