"""``[sip]``'s settings, apart from the front: ``callguard.config`` reads them on every CLI
command, and the front's module imports aiosipua and the gate (numpy with it), which a
command that never opens the port does not need."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callguard.errors import ConfigError
from callguard.fronts.sip.transactions import TimerSettings

if TYPE_CHECKING:
    from callguard.fronts.sip.mapping import SipMapping

__all__ = ["SipSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SipSettings:
    """``[sip]``: where to listen, where ALLOWed calls go, and the limits."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5060
    tcp: bool = True  # also listen on TCP (same port)
    trunk: str = "sip:{number}@trunk.invalid"  # the 302 Contact; {number} is E.164
    identity_header: str = "P-Asserted-Identity"
    block_status: int = 603  # or 403
    campaign_header: str = "X-Callguard-Campaign"
    campaign_by_source: Mapping[str, str] = field(default_factory=dict)  # network -> id
    mode_header: str = "X-Callguard-Mode"
    location_header: str = "X-Callguard-Location"
    budget_ms: int = 250
    allowed_sources: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    rate_per_source: float = 10_000.0  # messages per second (INVITE and ACK both count)
    burst_per_source: float = 20_000.0
    max_transactions: int = 65_536
    # INVITEs being decided at once; past it a new one is answered 503 (nothing decided):
    # each holds a task and, with Redis stores, up to two Redis connections (fdlimit.py)
    max_in_flight: int = 1024
    # and from one source (an address; an IPv6 one's /64): one dialer's flood or retry
    # storm against a slow store took every place, and the other dialers got 503s
    max_in_flight_per_source: int = 512
    max_tcp_connections: int = 1024
    max_tcp_connections_per_source: int = 128  # an IPv6 source's /64 is one source
    tcp_idle_timeout_ms: int = 30_000  # a TCP connection silent this long is closed
    max_retransmits: int = 10  # retransmitted requests answered per transaction
    t1_ms: int = 500
    max_datagram_bytes: int = 8192
    receive_buffer_bytes: int = 8 * 1024 * 1024  # capped by net.core.rmem_max
    force_rport: bool = True  # answer UDP at the source port even without ;rport
    tls: bool = False  # also listen for SIP over TLS (RFC 3261 §26.2) on tls_port
    tls_port: int = 5061
    tls_certificate: str = ""  # PEM: the certificate (and its chain)
    tls_key: str = ""  # PEM: its private key, unencrypted (may be the certificate's file)

    def __post_init__(self) -> None:
        if self.max_tcp_connections_per_source < 1:
            raise ConfigError("[sip] max_tcp_connections_per_source must be 1 or more")
        if self.max_in_flight < 1:
            raise ConfigError("[sip] max_in_flight must be 1 or more")
        if self.max_in_flight_per_source < 1:
            raise ConfigError("[sip] max_in_flight_per_source must be 1 or more")
        if self.max_transactions < 2:  # TimerSettings: a place for each kind of request
            raise ConfigError("[sip] max_transactions must be 2 or more (requests other "
                              "than INVITE take half of it at most: half of 1 is none)")

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS listener's context (None without ``tls``); ConfigError naming the key
        whose file is missing, unreadable or not a matching certificate and key. Read at
        ``serve``'s start and by ``config check``, not by every command: like the AMI
        secret, the key may be readable by the service's user alone."""
        if not self.tls:
            return None
        for key, path in (("tls_certificate", self.tls_certificate),
                          ("tls_key", self.tls_key)):
            if not path:
                raise ConfigError(f"[sip] tls is on: set {key} (a PEM file)")
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise ConfigError(f"[sip] {key} {path}: no readable file there")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8996: not 1.0 or 1.1
        context.options |= ssl.OP_NO_RENEGOTIATION  # a handshake per ask: SIP needs none
        try:
            context.load_cert_chain(self.tls_certificate, self.tls_key)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"[sip] tls_certificate {self.tls_certificate} and tls_key {self.tls_key}: "
                f"not a PEM certificate and its private key ({exc.strerror or exc})"
                ) from None
        return context

    def mapping(self) -> SipMapping:
        """Where the gate's question comes from (imported here: the mapping module imports
        aiosipua and the gate, which reading the configuration does not need)."""
        from callguard.fronts.sip.mapping import SipMapping  # noqa: PLC0415 - aiosipua, the gate

        return SipMapping(self.campaign_header, dict(self.campaign_by_source) or None,
                          self.mode_header, self.location_header)

    def timers(self) -> TimerSettings:
        """RFC 3261 timers scaled from T1, with the table's bounds."""
        t1 = self.t1_ms / 1000
        return TimerSettings(t1=t1, t2=8 * t1, t4=10 * t1,
                             max_transactions=self.max_transactions,
                             max_retransmits=self.max_retransmits)
