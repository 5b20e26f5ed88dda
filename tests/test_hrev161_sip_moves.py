"""hrev161: review of hsip33 (UDP copies of a transaction begun over TCP).

hsip33 absorbs a UDP copy of a request whose TCP connection is still open
(``udp_copy_of_stream``). A dialer whose connection died without a FIN or RST (a NAT
binding dropped: half-open on callguard's side) and which sends its INVITE again by UDP
is then unanswered while callguard still holds the connection: the idle sweep
(``tcp_idle_timeout_ms``, the connection silent since its INVITE) bounds that wait, and
the next full copy by UDP takes the answer. Real sockets on loopback (``front``).
"""

from __future__ import annotations

import asyncio

from tests.test_sip import QUIET_T1, Client, compliance, front, invite, tcp

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


class TestAHalfOpenConnection:
    async def test_the_udp_copy_is_answered_once_the_idle_sweep_closes_it(self, front):
        """The connection stays open on the dialer's side too (never read, never closed:
        as callguard sees a dead peer). A full copy by UDP while it is held is absorbed;
        once ``tcp_idle_timeout_ms`` closes it, the same copy moves the answer to UDP and
        gets the 302 decided once."""
        server = await front(t1_ms=QUIET_T1, tcp_idle_timeout_ms=1500)
        request = invite("ho1")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(request))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        while head.startswith(b"SIP/2.0 1"):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(_302)
        dialer = Client(server.port)
        dialer.send(request)
        assert await dialer.silence(0.1) == []
        assert server.stats.counts["udp_copy_of_stream"] == 1
        # the sweep (every 0.25 s) closes it after 1.5 s silent: EOF, nothing else
        assert await asyncio.wait_for(reader.read(), 10) == b""
        dialer.send(request)
        replies = await dialer.replies(0.3)
        writer.close()
        assert [r.split(b"\r\n", 1)[0] for r in replies] == [_302], replies
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
