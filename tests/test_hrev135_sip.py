"""Review of hsip26 (an INVITE sent again after its connection closed; ``rate_per_source``
by /64): where a moved answer may go, and which IPv6 sources are a /64 (hrev135).

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``), real sockets on
loopback (127.0.0.2 is another host of 127.0.0.0/8, listed in ``allowed_sources``).
"""

from __future__ import annotations

import asyncio
import socket

from callguard.fronts.dual_stack import source_holder
from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    TimerSettings,
    transaction_key,
)
from tests.test_hostile16_sip import _answers, _finals
from tests.test_sip import compliance, front, invite, tcp

__all__ = ["front"]

_FINAL = [b"SIP/2.0 302 Moved Temporarily"]


async def _over_tcp(port: int, data: bytes, wait: float, host: str = "127.0.0.1") -> bytes:
    """``data`` on a new connection from ``host``; what comes back in ``wait`` s; closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))
    writer.write(data)
    await writer.drain()
    reply = await _answers(reader, wait)
    writer.close()
    return reply


async def _over_udp(port: int, data: bytes, wait: float, host: str) -> bytes | None:
    """``data`` in a datagram from ``host``; the first datagram back, None in ``wait`` s."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendto(sock, data, ("127.0.0.1", port))
        return await asyncio.wait_for(loop.sock_recv(sock, 65536), wait)
    except TimeoutError:
        return None
    finally:
        sock.close()


class TestAMovedAnswerStaysWithItsHost:
    async def test_a_copy_from_another_host_is_not_given_the_answer(self, front):
        """§18.2.2 sends a response, its connection gone, to the host the request came
        from (its ``received`` address). hsip26 moved the transaction's answers to
        wherever a copy came from once the first connection was closed: any other
        allowed host — or a forged UDP source, an allowed address the sender does not
        hold — sending the same INVITE was given its 302 (main: both copies below got
        it) and kept it: the dialer's own copy afterwards went unanswered if the capture
        was by UDP (a datagram source is never "closed")."""
        server = await front(allowed_sources=("127.0.0.0/8",))
        request = tcp(invite("moved-host"))
        first = await _over_tcp(server.port, request, 1.0)
        assert _finals(first) == _FINAL, first
        await asyncio.sleep(0.1)  # the close reaches the front
        other = await _over_tcp(server.port, request, 0.7, host="127.0.0.2")
        assert _finals(other) == [], other
        forged = await _over_udp(server.port, invite("moved-host"), 0.7, "127.0.0.2")
        assert forged is None, forged
        again = await _over_tcp(server.port, request, 1.0)  # the dialer, reconnected
        assert _finals(again) == _FINAL, again
        assert again.split(b"\r\n\r\n")[0] == first.split(b"\r\n\r\n")[0]
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["invite_new"] == 1


class TestWhichSourcesAreA64:
    def test_link_local_sources_are_each_their_own(self):
        """fe80::/64 is every host's of a link (RFC 4291 §2.5.6), on every interface:
        read as one holder, one dialer on the LAN spent every link-local dialer's
        ``rate_per_source`` and ``max_in_flight_per_source`` (main: all ``fe80::/64``)."""
        assert source_holder("fe80::1%eth0") != source_holder("fe80::2%eth0")
        assert source_holder("fe80::1%eth0") != source_holder("fe80::1%eth1")
        assert source_holder("fe80::1%eth0") == "fe80::1%eth0"

    def test_addresses_carrying_an_ipv4_one_are_each_their_own(self):
        """A NAT64/SIIT prefix (RFC 6052 64:ff9b::/96, RFC 8215 64:ff9b:1::/48) or the
        ``::/96`` forms carry a whole IPv4 host each in their last 32 bits: as a /64, the
        IPv4 Internet behind a translator was one source (main)."""
        assert source_holder("64:ff9b::a01:203") != source_holder("64:ff9b::a01:204")
        assert source_holder("64:ff9b:1::a01:203") != source_holder("64:ff9b:1::a01:204")
        assert source_holder("::ffff:0:a01:203") != source_holder("::ffff:0:a01:204")
        assert source_holder("::1") == "::1"
        # the ordinary case is unchanged: one /64, one holder; a mapped IPv4 is itself
        assert source_holder("2001:db8:1:2::10") == source_holder("2001:db8:1:2:abcd::1")
        assert source_holder("::ffff:10.1.2.3") == "10.1.2.3"

    async def test_two_link_local_dialers_have_two_buckets(self, front):
        server = await front(rate_per_source=0.001, burst_per_source=1.0)
        assert server.rate_allows("fe80::1%eth0")
        assert server.rate_allows("fe80::2%eth0")
        assert not server.rate_allows("fe80::1%eth0")


def _key(i: int, method: str, branch: str | None = None) -> object:
    return transaction_key(branch=f"z9hG4bK{branch or method + str(i)}",
                           sent_by="10.0.0.1:5060", method=method, call_id=f"c{i}",
                           cseq=1, from_tag="t")


class TestACancelOfNoInviteIsAnOther:
    def test_a_flood_of_cancels_of_nothing_leaves_the_invites_their_places(self):
        """hsip26 exempted every CANCEL from the half of the table the requests other
        than INVITE may take ("there are no more CANCELs than INVITEs"): true of a
        dialer's, not of a flood of CANCELs matching no INVITE — each answered 481 and
        kept 64·T1 over UDP (timer J), as an OPTIONS is. They filled the other half and
        every INVITE was answered 503 (main: the CANCELs below took the 4 places left). A
        CANCEL of a live INVITE still takes a place past the half."""
        table = ServerTransactions(TimerSettings(t1=0.5, max_transactions=8))
        for i in range(4):
            assert table.receive(_key(i, "OPTIONS"), "OPTIONS", reliable=False,
                                 now=0.0)[0] is Receipt.NEW
        orphans = [table.receive(_key(i, "CANCEL"), "CANCEL", reliable=False,
                                 now=0.0)[0] for i in range(4)]
        assert orphans == [Receipt.FULL] * 4
        assert table.counts["table_full_others"] == 4
        assert table.receive(_key(9, "INVITE", "call9"), "INVITE", reliable=False,
                             now=0.0)[0] is Receipt.NEW
        assert table.receive(_key(9, "CANCEL", "call9"), "CANCEL", reliable=False,
                             now=0.0)[0] is Receipt.NEW  # its CANCEL, past the half
