"""Who may ask, and how often: the allowlist and a token bucket per source address.

Both act before a datagram is parsed, and neither answers what it refuses: a spoofed
source gets nothing back, so the server cannot be turned into an amplifier.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Allowlist", "RateLimiter", "plain_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def plain_address(source: str) -> IPAddress | None:
    """The source address as its networks are written: an IPv4 peer seen through a
    dual-stack socket (``host = "::"``: ``::ffff:10.1.2.3``) is its IPv4 address, which
    an IPv4 network contains (an IPv6 address never is); None for no address."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Allowlist:
    """Source networks allowed to ask; answers are cached per address."""

    def __init__(self, networks: Iterable[str], *, cache: int = 4096) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._cache: dict[str, bool] = {}
        self._cache_size = cache

    def __contains__(self, source: str) -> bool:
        known = self._cache.get(source)
        if known is not None:
            return known
        address = plain_address(source)
        if address is None:
            return False
        allowed = any(address in network for network in self._networks)
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
