"""The durability marker a node relies on, remembered in its data dir across restarts.

A node notices a Redis server that lost its data while it runs (its marker gone or
changed), but a node started on it used to adopt whatever marker it then found, writing a
fresh one on an empty server: an opt-out written before the loss read as "none" (47 CFR
64.1200(d)(3)). The node now keeps the marker it adopted in ``records-redis.marker``
(written as ``records.id``: temp + fsync + rename + directory fsync) and at start relies on
that one: a server without it is in the lost state from the first call. Removing the file
accepts the server as it is (a new or restored server), at the next start. A server
restored from an *older* backup keeps the marker: ``high_water.py`` tells that one.
"""

from __future__ import annotations

from pathlib import Path

from callguard.errors import StoreError
from callguard.stores.embedded.identity import write_atomically

__all__ = ["MARKER_FILE", "read_marker", "rely_on", "remember_marker"]

MARKER_FILE = "records-redis.marker"


def rely_on(remembered: str | None, on_server: str | None) -> tuple[str | None, bool]:
    """The marker to rely on, and whether to remember it (a pure rule): the remembered
    one when there is one (the server then has it, or lost its data); else the server's."""
    if remembered is not None:
        return remembered, False
    return on_server, on_server is not None


def read_marker(path: Path) -> str | None:
    """The remembered marker, or None; StoreError when the file cannot be read."""
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot read {path}: {exc.strerror}") from None


def remember_marker(path: Path, token: str) -> None:
    """Write the marker durably; StoreError when it cannot be."""
    try:
        write_atomically(path, token + "\n")
    except OSError as exc:
        raise StoreError(f"record store (Redis): cannot write {path}: {exc.strerror}") from None
