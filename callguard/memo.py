"""A bounded memo: a dict that empties itself when full.

Hot paths remember values that depend on a few inputs (a rule's outcome per reason, a
list's check per version, a call's zones per number). Keyed by numbers or dates, such a
memo would grow for as long as a node runs; emptied at its limit, a node's working set
fills it again within a few calls. The lookup stays the caller's plain ``dict.get`` (no
closure per call); only the store goes through here.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> V:
    """Keep ``value`` under ``key`` and return it; a cache of ``limit`` entries is emptied
    first."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
