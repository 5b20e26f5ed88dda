"""The hashing key, read for a lookup: never created as a side effect of reading.

A lookup by number hashes it with the nodes' key; with another key it would find
nothing and say nothing. So a lookup only reads a key that exists (``CALLGUARD_LOG_KEY``
or ``<data dir>/log.key``), names where it came from, and compares its fingerprint with
the records' ``key_id``.
"""

from __future__ import annotations

import os
from pathlib import Path

from callguard.errors import UsageError

__all__ = ["read_log_key"]


def read_log_key(data_dir: Path) -> tuple[bytes, str]:
    """The key and where it came from; ``UsageError`` when there is none to read."""
    from callguard.audit import load_log_key  # noqa: PLC0415 - the one parser of the key

    if os.environ.get("CALLGUARD_LOG_KEY"):
        return load_log_key(data_dir), "CALLGUARD_LOG_KEY"
    path = data_dir / "log.key"
    if not path.is_file():
        raise UsageError(f"no hashing key: {path} does not exist and CALLGUARD_LOG_KEY is not "
                         "set; give the nodes' --data-dir (where their log.key is) or set "
                         "CALLGUARD_LOG_KEY to their key")
    return load_log_key(data_dir), str(path)
