"""``rate_per_source`` counts an IPv6 source by its /64, as every other per-source bound
does (hsip26).

The token bucket was keyed by the address as received. One host holds a /64 and may send
from any address in it (RFC 4291 §2.5.1): an allowed IPv6 dialer that changed address per
datagram had a fresh bucket (``burst_per_source`` tokens) each time, and, past the
limiter's 10,000 sources, evicted every other source's bucket — the rate limit did not
hold for it at all. ``max_tcp_connections_per_source`` and ``max_in_flight_per_source``
already count a /64 as one source (``dual_stack.source_holder``). IPv4 sources are keyed
as before (no parse on the hot path).
"""

from __future__ import annotations

from tests.test_sip import front

__all__ = ["front"]


class TestRateBySource:
    async def test_the_addresses_of_one_ipv6_64_share_a_bucket(self, front):
        """main: the second address of the /64 had its own full bucket."""
        server = await front(rate_per_source=0.001, burst_per_source=2.0)
        assert server.rate_allows("2001:db8:1:2::10")
        assert server.rate_allows("2001:db8:1:2::11")
        assert not server.rate_allows("2001:db8:1:2:abcd::1")  # the same /64: spent
        assert server.rate_allows("2001:db8:1:3::10")  # another /64: its own bucket
        assert server.stats.counts["rate_limited"] == 1

    async def test_ipv4_sources_each_have_their_own(self, front):
        server = await front(rate_per_source=0.001, burst_per_source=1.0)
        assert server.rate_allows("10.1.2.3")
        assert server.rate_allows("10.1.2.4")
        assert not server.rate_allows("10.1.2.3")
        # as a dual-stack socket sees an IPv4 dialer: the same source
        assert not server.rate_allows("::ffff:10.1.2.4")
