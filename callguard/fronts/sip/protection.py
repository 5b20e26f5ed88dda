"""Who may ask, and how often: the allowlist and a token bucket per source address.

Both act before a datagram is parsed, and neither answers what it refuses: a spoofed
source gets nothing back, so the server cannot be turned into an amplifier.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from callguard.fronts.dual_stack import address_forms, plain_address, plain_network

__all__ = ["Allowlist", "RateLimiter", "address_forms", "plain_address", "plain_network"]

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
