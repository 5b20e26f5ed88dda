"""The hashing key, read for a lookup: never created as a side effect of reading.

A lookup by number hashes it with the nodes' key; with another key it would find
nothing and say nothing. So a lookup only reads a key that exists (``CALLGUARD_LOG_KEY``
or ``<data dir>/log.key``), names where it came from, and compares its fingerprint with
the records' ``key_id``.

The hash and the fingerprint are those of the writer's ``NumberProtector`` (a test holds
them equal); they are computed here so that a lookup does not import the write path.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from callguard.errors import UsageError

__all__ = ["KeyedHash", "read_log_key"]

_HEX = frozenset("0123456789abcdefABCDEF")


def _parse(text: str) -> bytes:
    value = text.strip()
    if value and len(value) % 2 == 0 and set(value) <= _HEX:
        return bytes.fromhex(value)
    return text.encode()  # as the writer reads a key that is not hexadecimal


def read_log_key(data_dir: Path) -> tuple[bytes, str]:
    """The key and where it came from; ``UsageError`` when there is none to read."""
    env = os.environ.get("CALLGUARD_LOG_KEY")
    if env:
        return _parse(env), "CALLGUARD_LOG_KEY"
    path = data_dir / "log.key"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise UsageError(f"no hashing key: {path} does not exist and CALLGUARD_LOG_KEY is not "
                         "set; give the nodes' --data-dir (where their log.key is) or set "
                         "CALLGUARD_LOG_KEY to their key") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"hashing key {path} cannot be read ({type(exc).__name__})") from None
    return _parse(text), str(path)


class KeyedHash:
    """HMAC-SHA-256 of a number's E.164 form, and the key's fingerprint (``key_id``)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.key_id = hmac.new(key, b"callguard key id", hashlib.sha256).hexdigest()[:8]

    def hash(self, e164: str) -> str:
        """64 hex, as ``number_hash`` in the records."""
        return hmac.new(self._key, e164.encode(), hashlib.sha256).hexdigest()
