"""The key that hashes numbers in the compliance log, and its fingerprint.

Every node that writes to one stream must use the same key, or a lookup by number finds
nothing and says so (the fingerprint, ``key_id``, is in every record that holds a hash).
The key comes from ``CALLGUARD_LOG_KEY`` (hex) or ``<data_dir>/log.key`` (hex, 0600), made
on first use by a command that writes records — never by one that only reads
(``read_log_key``: a lookup names where its key came from and compares fingerprints).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from callguard.errors import ConfigError

__all__ = ["ENV_VAR", "MIN_KEY_BYTES", "LogKeyError", "NumberProtector", "load_log_key",
           "parse_key", "read_log_key"]

ENV_VAR = "CALLGUARD_LOG_KEY"
MIN_KEY_BYTES = 16  # 128 bits: the keyed hash of a 10-digit number must not be brute-forced
_HEX = frozenset("0123456789abcdefABCDEF")


class LogKeyError(ConfigError):
    """The log key is missing or malformed; the message names where it came from."""


def parse_key(text: str, where: str) -> bytes:
    """Hex of at least ``MIN_KEY_BYTES`` bytes, or LogKeyError naming ``where`` (never the key)."""
    value = text.strip()
    fix = (f"{where} must be at least {2 * MIN_KEY_BYTES} hexadecimal digits "
           f"({MIN_KEY_BYTES} bytes), e.g. the output of `openssl rand -hex 32`")
    if not value:
        raise LogKeyError(f"{fix}; it is empty")
    if not set(value) <= _HEX:
        raise LogKeyError(f"{fix}; it holds characters that are not hexadecimal digits")
    if len(value) % 2:
        raise LogKeyError(f"{fix}; it has an odd number of digits ({len(value)})")
    if len(value) < 2 * MIN_KEY_BYTES:
        raise LogKeyError(f"{fix}; it has {len(value)}")
    return bytes.fromhex(value)


def read_log_key(data_dir: Path) -> tuple[bytes, str]:
    """The key and where it came from, for a lookup: read, never created; LogKeyError when
    there is none (a lookup with a new random key would find nothing and say nothing)."""
    env = os.environ.get(ENV_VAR)
    if env is not None:
        return parse_key(env, ENV_VAR), ENV_VAR
    path = data_dir / "log.key"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise LogKeyError(f"no log key: {path} does not exist and {ENV_VAR} is not set; give "
                          "the nodes' --data-dir (where their log.key is) or set "
                          f"{ENV_VAR} to their key") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LogKeyError(f"log key file {path} cannot be read ({type(exc).__name__})") from None
    return parse_key(text, f"log key file {path}"), str(path)


def load_log_key(data_dir: Path, *, create: bool = True) -> bytes:
    """``CALLGUARD_LOG_KEY``, else ``<data_dir>/log.key`` (made 0600 when ``create``)."""
    path = data_dir / "log.key"
    if create and os.environ.get(ENV_VAR) is None and not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another node made it meanwhile
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return read_log_key(data_dir)[0]


class NumberProtector:
    """Keyed hash of a number, and a structlog processor replacing ``number`` by it."""

    __slots__ = ("_inner", "key_id")

    def __init__(self, key: bytes) -> None:
        inner = hmac.new(key, digestmod=hashlib.sha256)
        # OpenSSL's HMAC object where there is one: its copy() is C, the hmac module's is
        # Python (1.3 against 1.9 µs per hash; one per record, on the answer's path).
        self._inner: Any = getattr(inner, "_hmac", None) or inner
        # 8 hex naming the key (not revealing it): records carry it, lookups compare it.
        self.key_id = hmac.new(key, b"callguard key id", hashlib.sha256).hexdigest()[:8]

    def hash(self, text: str) -> str:
        """HMAC-SHA-256 of ``text`` (the ASCII E.164 form of a number), 64 hex."""
        mac = self._inner.copy()
        mac.update(text.encode())
        digest: str = mac.hexdigest()
        return digest

    def __call__(
        self, logger: Any, name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        number = event_dict.pop("number", None)
        if number is not None:
            text = str(number)
            event_dict["number_hash"] = self.hash(text)
            event_dict["number_last4"] = text[-4:] if len(text) >= 4 else ""
        return event_dict
