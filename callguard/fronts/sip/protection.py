"""Who may ask, and how often: the allowlist and a token bucket per source address.

Both act before a datagram is parsed, and neither answers what it refuses: a spoofed
source gets nothing back, so the server cannot be turned into an amplifier.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Allowlist", "RateLimiter", "address_forms", "plain_address", "plain_network"]

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


class Allowlist:
    """Source networks allowed to ask; answers are cached per address."""

    def __init__(self, networks: Iterable[str], *, cache: int = 4096) -> None:
        self._networks = [plain_network(n) for n in networks]
        self._cache: dict[str, bool] = {}
        self._cache_size = cache

    def __contains__(self, source: str) -> bool:
        known = self._cache.get(source)
        if known is not None:
            return known
        allowed = any(address in network for address in address_forms(source)
                      for network in self._networks)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[source] = allowed
        return allowed


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """``rate`` requests per second per source, bursts up to ``burst``; bounded memory."""

    rate: float
    burst: float
    max_sources: int = 10_000
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)

    def allow(self, source: str, now: float) -> bool:
        """Take one token from the source's bucket, if it has one."""
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = _Bucket(self.burst, now)
            self._buckets[source] = bucket
            if len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)  # the least recently seen source
        else:
            self._buckets.move_to_end(source)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True
