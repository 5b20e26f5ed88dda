"""Listening on ``host = "::"`` for IPv4 peers too, and reading their addresses plainly.

asyncio's ``create_server``/``start_server`` set ``IPV6_V6ONLY`` on an IPv6 host, so a
front configured ``host = "::"`` refused every IPv4 peer (SIP's TCP and TLS until hsip13,
the HTTP port and FastAGI until session 21) while SIP's UDP socket, and the README, said
dual-stack. Through a dual-stack socket an IPv4 peer shows as ``::ffff:10.1.2.3``: its
allowlists are read with it as ``10.1.2.3`` so the networks an admin wrote still hold it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable

import structlog

__all__ = ["StrangerLog", "address_forms", "as_written", "dual_stack_listener",
           "plain_address", "plain_network", "source_allowed"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def plain_address(source: str) -> IPAddress | None:
    """The source address as its networks are written: an IPv4 peer seen through a
    dual-stack socket (``host = "::"``: ``::ffff:10.1.2.3``) is its IPv4 address, which
    an IPv4 network contains (an IPv6 address never is); None for no address."""
    forms = address_forms(source)
    return forms[0] if forms else None


def address_forms(source: str) -> tuple[IPAddress, ...]:
    """The source as ``plain_address`` reads it, then as the socket gave it when that
    differs (``::ffff:10.1.2.3``): a network written for either holds it — ``::/0``
    let every dual-stack peer in before sources were read plain, and still does."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return ()
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped, address
    return (address,)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def plain_network(text: str) -> IPNetwork:
    """A configured network as ``plain_address`` reads sources: one written in the mapped
    form (``::ffff:10.1.2.0/120``, as a dual-stack socket showed an IPv4 peer before its
    sources were read plain) is its IPv4 network, so it still holds the peers it named."""
    network = ipaddress.ip_network(text, strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96), strict=False)
    return network


def source_allowed(networks: list[IPNetwork], source: str) -> bool:
    """Whether ``source`` (a peer's address as its socket gave it) is in one of
    ``networks`` (each read by ``plain_network``)."""
    return any(address in network for address in address_forms(source)
               for network in networks)


def dual_stack_listener(host: str, port: int) -> socket.socket | None:
    """For ``host = "::"`` a bound TCP socket that takes IPv4 too (``IPV6_V6ONLY`` off, not
    left to net.ipv6.bindv6only), to hand to ``create_server(sock=...)``; None otherwise
    (the front listens on its host as asyncio does)."""
    if host != "::" or not socket.has_ipv6:
        return None
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class StrangerLog:
    """Peers refused for being outside a front's ``allowed_sources``, logged: before they
    were only counted (``refused_source``), and an admin whose dialer's address was not
    listed saw a counter climb with nothing naming the address to add. The first refusal
    is logged at once; after it at most one line a ``period`` (a flood of strangers, or of
    forged UDP sources, cannot fill the log), naming the address that brought it, the
    refusals since the last line and up to ``_SHOWN`` distinct addresses among them, the
    most refused first: a dialer refused call after call stands out of a scan's one-off
    probes (the first eight seen were shown, and on a scanned port they were scanners).
    Counted for the first ``_TRACKED`` distinct addresses of a line's minute only, so a
    forged-source flood holds no more. An address only: nothing the peer sent is read,
    so no number can reach the log."""

    _SHOWN = 8
    _TRACKED = 64

    def __init__(self, event: str, setting: str, period: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._event = event
        self._setting = setting
        self._period = period
        self._clock = clock
        self._last: float | None = None
        self._refused = 0
        self._sources: dict[str, int] = {}  # refusals of each since the last line

    def refused(self, source: str) -> None:
        """Count one refusal of ``source``; log when a line is due."""
        self._refused += 1
        sources = self._sources
        count = sources.get(source)
        if count is not None:
            sources[source] = count + 1
        elif len(sources) < self._TRACKED:
            sources[source] = 1
        now = self._clock()
        if self._last is not None and now - self._last < self._period:
            return
        busiest = sorted(sources, key=sources.__getitem__, reverse=True)  # stable: ties
        structlog.get_logger("callguard.fronts").warning(  # in the order first seen
            self._event, source=as_written(source), refused=self._refused,
            sources=list(dict.fromkeys(as_written(s) for s in busiest))[:self._SHOWN],
            fix=f"add the address to {self._setting} if it is one of your dialers or "
                "clients; otherwise nothing is wrong (refused unread)")
        self._last = now
        self._refused = 0
        self._sources = {}


def source_holder(address: str) -> str:
    """Whose connection this is, for a per-source cap (SIP's and the HTTP port's): the
    address (an IPv4 one seen through a dual-stack socket as itself), an IPv6 one's /64 —
    one host holds a /64 and may connect from any address in it (RFC 4291 §2.5.1), so
    counted by address it took every place from two of its addresses.

    Not so an address the /64 does not name a host by: a link-local one (fe80::/10, RFC
    4291 §2.5.6: every host of every link has its address in fe80::/64) is itself, its
    scope (``%eth0``) kept; so is one that carries an IPv4 host in its last 32 bits (a
    NAT64/SIIT prefix, RFC 6052 §2.1, RFC 8215; the ``::/96`` and ``::ffff:0:0/96``
    forms; and ``::1``). Read as a /64, one dialer on the link, or one IPv4 host behind
    a translator, spent every other one's per-source bound (hrev135)."""
    plain = plain_address(address)
    if isinstance(plain, ipaddress.IPv6Address):
        if plain.is_link_local or any(plain in network for network in _HOST_EACH):
            return str(plain)
        return str(ipaddress.IPv6Network((plain, 64), strict=False))
    return str(plain) if plain is not None else address


# IPv6 networks whose addresses are each one host (an IPv4 one embedded), not a /64
_HOST_EACH = tuple(ipaddress.IPv6Network(text) for text in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96"))


def as_written(source: str) -> str:
    """An address as ``allowed_sources`` would list it: an IPv4 peer of a dual-stack
    socket (``::ffff:10.1.2.3``) as its IPv4 address, the form an admin writes (every
    front's refused-source line names it so: StrangerLog, FastAGI's own)."""
    address = plain_address(source)
    return source if address is None else str(address)
