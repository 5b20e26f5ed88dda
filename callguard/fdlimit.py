"""File descriptors: raise the soft limit to the hard one, and keep the fronts below it.

Every open socket is a file descriptor. A node whose fronts may accept more connections
than the process may open fails in the wrong place when peers hold them all: an idle HTTP
client could leave no descriptor for reading a list file or rotating the compliance log.
So at ``serve`` start the soft ``RLIMIT_NOFILE`` is raised to the hard limit (systemd's
default soft limit is 1,024, its hard one 524,288), and the fronts' connection caps are
lowered — proportionally, with a warning naming the fix — when together with a reserve for
files, Redis and the event loop they would not fit under it. A connection past a cap is
closed at once and counted; the node never runs out of descriptors because of its peers.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = ["RESERVED_FDS", "ConnectionCaps", "fit_caps", "raise_nofile_limit"]

# Descriptors kept for everything that is not a front's connection: the compliance log and
# its lock, SQLite and its WAL, list files while a version loads, Redis connections (one
# per concurrent call on the call path at worst: see FastAGI max_sessions), the loop.
RESERVED_FDS = 256
_CEILING = 1 << 20  # never ask for more than this, even when the hard limit is infinite


def raise_nofile_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _CEILING if hard == resource.RLIM_INFINITY else min(hard, _CEILING)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return _CEILING if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


@dataclass(frozen=True, slots=True)
class ConnectionCaps:
    """How many connections each front may hold open at once."""

    fastagi: int
    http: int
    sip_tcp: int

    @property
    def total(self) -> int:
        """Descriptors the fronts' connections may take together."""
        return self.fastagi + self.http + self.sip_tcp


def fit_caps(wanted: ConnectionCaps, limit: int, reserve: int = RESERVED_FDS
             ) -> ConnectionCaps:
    """``wanted``, or each cap lowered in proportion so that all fit under ``limit``."""
    room = max(limit - reserve, 3)
    if wanted.total <= room:
        return wanted
    scale = room / wanted.total

    def lowered(cap: int) -> int:
        return max(1, int(cap * scale)) if cap else 0

    return ConnectionCaps(lowered(wanted.fastagi), lowered(wanted.http),
                          lowered(wanted.sip_tcp))
