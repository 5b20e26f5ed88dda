"""File descriptors: raise the soft limit to the hard one, and keep the fronts below it.

Every open socket is a file descriptor. A node whose fronts may accept more connections
than the process may open fails in the wrong place when peers hold them all: an idle HTTP
client could leave no descriptor for reading a list file or rotating the compliance log,
and a call in flight none for the Redis connection its record needs (a BLOCK; an opt-out
FAILED). So at ``serve`` start the soft ``RLIMIT_NOFILE`` is raised to the hard limit
(systemd's default soft limit is 1,024, its hard one 524,288), and the fronts' caps are
lowered — proportionally, with a warning naming the number to raise the limit to — when
the most the node may hold open at once would not fit under it: every front's connections,
the Redis connections of every call in flight (FastAGI sessions counted with the opt-outs'
headroom, twice ``max_sessions``; an HTTP request per connection; SIP's INVITEs being
decided, ``[sip] max_in_flight``), and a reserve for files
and the event loop. A connection past a cap is closed at once and counted; the node never
runs out of descriptors because of its peers.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = ["OPT_OUT_HEADROOM", "RESERVED_FDS", "ConnectionCaps", "fit_caps",
           "raise_nofile_limit"]

# Descriptors kept for everything that is neither a front's connection nor a call's Redis
# connection: the compliance log and its lock, SQLite and its WAL, list files while a
# version loads, the list follower's pub/sub and the readiness pinger, the loop, stdio.
RESERVED_FDS = 256
# FastAGI sessions at once, in units of max_sessions: checks fill max_sessions, opt-outs
# have as many again of their own (fronts/fastagi/server.py, 64.1200(d)(3)).
OPT_OUT_HEADROOM = 2
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
    """How many connections each front may hold open at once, how many FastAGI sessions
    (``max_sessions``: checks; opt-outs get as many again), and how many Redis connections
    one call in flight may take (0: embedded stores; records and call-frequency counts in
    Redis are two clients, so 2), and how many SIP INVITEs may be decided at once
    (``sip_calls``: ``[sip] max_in_flight``; 0 when SIP is off). SIP's calls are counted
    apart from its TCP connections: over UDP they hold no connection of their own."""

    fastagi: int
    http: int
    sip_tcp: int
    sessions: int = 0
    redis_per_call: int = 0
    sip_calls: int = 0

    @property
    def total(self) -> int:
        """Descriptors the fronts' connections may take together."""
        return self.fastagi + self.http + self.sip_tcp

    @property
    def calls_in_flight(self) -> int:
        """Calls being decided at once: FastAGI sessions with the opt-outs' headroom (never
        more than its connections), one request per HTTP connection, and SIP's INVITEs
        being decided."""
        return (min(self.sessions * OPT_OUT_HEADROOM, self.fastagi) + self.http
                + self.sip_calls)

    def needed(self, reserve: int = RESERVED_FDS) -> int:
        """The most descriptors the node may hold open at once with these caps."""
        return self.total + self.calls_in_flight * self.redis_per_call + reserve


def fit_caps(wanted: ConnectionCaps, limit: int, reserve: int = RESERVED_FDS
             ) -> ConnectionCaps:
    """``wanted``, or every cap lowered in proportion so that the most the node may hold
    open (``needed``) fits under ``limit``. ``sessions`` (and ``sip_calls``) only when a
    call holds Redis connections of its own: with embedded stores a session holds only its
    FastAGI connection, which that cap bounds, and a lower ``max_sessions`` would only
    BLOCK calls (``callguard:busy``) and FAIL opt-outs the node had descriptors for (a
    lower ``max_in_flight`` would only answer SIP calls 503)."""
    if wanted.needed(reserve) <= limit:
        return wanted
    room = max(limit - reserve, 3)
    scale = room / (wanted.needed(reserve) - reserve)

    def lowered(cap: int) -> int:
        return max(1, int(cap * scale)) if cap else 0

    return ConnectionCaps(lowered(wanted.fastagi), lowered(wanted.http),
                          lowered(wanted.sip_tcp),
                          lowered(wanted.sessions) if wanted.redis_per_call
                          else wanted.sessions, wanted.redis_per_call,
                          lowered(wanted.sip_calls) if wanted.redis_per_call
                          else wanted.sip_calls)
