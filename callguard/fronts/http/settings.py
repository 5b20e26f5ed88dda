"""``[http]``'s settings, apart from the server: ``callguard.config`` reads them on every
CLI command, and the server's module imports aiohttp (about a fifth of a second a command,
for commands that never open the port)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HttpLimitSettings", "HttpSettings"]


@dataclass(frozen=True, slots=True)
class HttpLimitSettings:
    """The limits, from ``[http]``."""

    max_connections: int = 256
    max_connections_per_source: int = 128
    header_timeout_ms: int = 5000
    body_timeout_ms: int = 10_000
    allowed_sources: tuple[str, ...] = ()  # empty: any address (the token still applies)
    max_at_skew: float = 0.0  # a /v1/check 'at' this far from the node's clock: BLOCK (app)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: the metrics, health and JSON API port."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    token_file: str = ""  # else CALLGUARD_HTTP_TOKEN
    require_clock_sync: bool = True
    max_body_bytes: int = 65_536
    max_connections: int = 256  # open at once; more are closed at once (counted)
    max_connections_per_source: int = 128  # open at once from one address
    header_timeout_ms: int = 5000  # a request head must arrive within this
    body_timeout_ms: int = 10_000  # and its body within this (408)
    allowed_sources: tuple[str, ...] = ()  # addresses/networks; empty: any
    budget_ms: int = 250  # the gate's time budget for one /v1/check decision, as FastAGI/SIP
    # Seconds a /v1/check ``at`` may lie from the node's clock; past it a recorded BLOCK
    # (callguard:at-skew). 0: off (acceptance runs and replays send fixed instants).
    max_at_skew: float = 0.0

    def limits(self) -> HttpLimitSettings:
        """The connection (and request) limits, for ``GuardedSite`` and ``build_app``."""
        return HttpLimitSettings(max_connections=self.max_connections,
                                 max_connections_per_source=self.max_connections_per_source,
                                 header_timeout_ms=self.header_timeout_ms,
                                 body_timeout_ms=self.body_timeout_ms,
                                 allowed_sources=self.allowed_sources,
                                 max_at_skew=self.max_at_skew)
