"""``[fastagi]``'s settings, apart from the server: ``callguard.config`` reads them on every
CLI command, and the server's module imports the gate (numpy with it) and panoramisk
(about a third of a second a command, for commands that never open the port)."""

from __future__ import annotations

from dataclasses import dataclass

from callguard.fronts.fastagi import contract as c

__all__ = ["FastAgiSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FastAgiSettings:
    """Limits of the FastAGI front; each has a safe default."""

    host: str = "127.0.0.1"
    port: int = 4573
    budget_ms: int = 250
    header_timeout_ms: int = 2000
    reply_timeout_ms: int = 2000
    max_header_bytes: int = 16_384
    max_sessions: int = 256  # sessions with a complete header block, deciding or answering
    max_connections: int = 4096  # sockets still sending their header block
    allowed_sources: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    block_cause: int = c.DEFAULT_BLOCK_CAUSE
    # Ask Asterisk whether the channel is hung up before deciding a check (a hangup
    # handler, a Gosub from h: ``_dead_channel``); a round trip more on every check. Off
    # until the tests that script Asterisk by hand expect the question (session 25).
    ask_liveness: bool = False
