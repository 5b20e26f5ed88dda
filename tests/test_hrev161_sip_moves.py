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

from callguard.fronts.sip.server import _ANSWER_OWN_BYTES
from tests.test_hostile16_sip import _finals
from tests.test_hsip30_moves import _final_head, _over_tcp
from tests.test_hsip32_moves import _padded
from tests.test_hsip33_moves import answered_over_tcp
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
        reader, writer = await answered_over_tcp(server.port, request)
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


class TestTheDialersCreditIsNotAForgersToSpend:
    async def test_a_small_copy_naming_another_port_moves_nothing(self, front):
        """hsip33 kept the bytes of UDP copies too small for the answer (``credit``) and
        let the copy that brings the total past it move the answer. The dialer's three
        small copies, then one copy of the same size with ``rport`` from another port on
        the dialer's host (a spoofed source): that copy moved the 302 to its port, paid
        for by the dialer's copies, and the dialer's copies after it paid for answers
        sent there, the dialer unanswered. Now only copies naming one address pay
        together: the forger's gets nothing, and the dialer's own copies still do."""
        server = await front(t1_ms=QUIET_T1, force_rport=False, max_retransmits=10)
        dialer, forger = Client(server.port), Client(server.port)
        port = dialer.sock.getsockname()[1]
        big = tcp(_padded(invite("dc9", port=port), 40))
        first = await _over_tcp(server.port, big, 0.5)
        assert _finals(first) == [_302], first[:200]
        answer = len(_final_head(first)) + 4
        copy = invite("dc9", port=port).replace(b";rport", b"")  # answered at its Via
        assert 3 * (len(copy) + _ANSWER_OWN_BYTES) < answer < 4 * (
            len(copy) + _ANSWER_OWN_BYTES)
        await asyncio.sleep(0.1)  # the close reaches the front
        for _ in range(3):
            dialer.send(copy)
        await asyncio.sleep(0.2)
        forger.send(invite("dc9", port=port))  # rport: answered at its source port
        assert await forger.silence(0.3) == []
        assert await dialer.silence(0.0) == []
        heads: list[bytes] = []
        for _ in range(5):  # what is left of timer A's copies
            dialer.send(copy)
            await asyncio.sleep(0.1)
            heads += [r.split(b"\r\n", 1)[0] for r in await dialer.silence(0.0)]
            if heads:
                break
        heads += [r.split(b"\r\n", 1)[0] for r in await dialer.silence(0.2)]
        assert heads, heads
        assert set(heads) == {_302}, heads
        assert await forger.silence(0.0) == []
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
