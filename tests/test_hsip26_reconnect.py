"""A retransmitted INVITE on a new connection, its first connection gone (hsip26).

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``), real sockets.

RFC 3261 §18.2.2: a response over a reliable transport goes on the connection the request
that created the transaction came on "if that connection is still open"; if it is not,
the server "SHOULD open a connection" to the source. A dialer whose TCP connection broke
(a reset by a middlebox, its own reconnect) and that sent the same INVITE again on a new
connection got nothing: the transaction's answer (the 302 already sent, or the one still
being decided) was written to the closed connection and dropped, and the dialer waited out
its Timer B (32 s) for a call already decided and recorded. The answer now goes on the
connection the retransmission came on, when the first one is closed; the decision is
still taken once and recorded once. While the first connection is open it still gets the
answers (§18.2.2), as before.
"""

from __future__ import annotations

import asyncio
import socket
import struct

from tests.test_hostile16_sip import _answers, _finals
from tests.test_sip import _Slowed, compliance, front, invite, tcp

__all__ = ["front"]


async def _exchange(port: int, data: bytes, wait: float = 2.0) -> bytes:
    """``data`` on a new connection; what comes back until ``wait`` s of quiet; closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    reply = await _answers(reader, wait)
    writer.close()
    return reply


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), as a broken connection ends."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TestSameInviteOnANewConnection:
    async def test_after_the_answer_the_new_connection_gets_it_again(self, front):
        """The 302 went out on connection A, which then closed; the same INVITE on B (its
        dialer did not read A's answer before the break) was answered nowhere (main)."""
        server = await front()
        request = tcp(invite("reconnect-after"))
        first = await _exchange(server.port, request, 1.0)
        assert _finals(first) == [b"SIP/2.0 302 Moved Temporarily"], first
        await asyncio.sleep(0.1)  # A's close reaches the front
        again = await _exchange(server.port, request, 1.5)
        assert _finals(again) == [b"SIP/2.0 302 Moved Temporarily"], again
        # the same answer (its To tag and decision), not a second decision
        assert again.split(b"\r\n\r\n")[0] == first.split(b"\r\n\r\n")[0]
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["invite_new"] == 1

    async def test_while_deciding_the_answer_goes_to_the_new_connection(self, front):
        """A reset while the INVITE is decided, then the same INVITE on B: the decision,
        recorded once, is answered on B (main: written to A, gone; B heard nothing)."""
        server = await front()
        server.gate = _Slowed(server.gate, 0.5)
        request = tcp(invite("reconnect-deciding"))
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        await writer.drain()
        await asyncio.sleep(0.15)  # the decision is under way
        _reset(writer)
        await asyncio.sleep(0.05)
        again = await _exchange(server.port, request, 1.5)
        assert _finals(again) == [b"SIP/2.0 302 Moved Temporarily"], again
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["invite_new"] == 1

    async def test_an_open_first_connection_keeps_the_answers(self, front):
        """§18.2.2: while A is open, the answers go on A, not on B."""
        server = await front()
        request = tcp(invite("reconnect-open"))
        reader_a, writer_a = await asyncio.open_connection("127.0.0.1", server.port)
        writer_a.write(request)
        await writer_a.drain()
        first = await _answers(reader_a, 0.5)
        assert _finals(first) == [b"SIP/2.0 302 Moved Temporarily"], first
        again = await _exchange(server.port, request, 0.5)
        assert _finals(again) == [], again
        assert _finals(await _answers(reader_a, 0.5)) == [b"SIP/2.0 302 Moved Temporarily"]
        writer_a.close()
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_a_copy_by_udp_after_the_connection_closed_is_answered(self, front):
        """§18.1.1: a request that failed over TCP may be sent again over UDP. The copy
        matched the transaction, and its answer went to the closed connection (main)."""
        server = await front()
        first = await _exchange(server.port, tcp(invite("reconnect-udp")), 1.0)
        assert _finals(first) == [b"SIP/2.0 302 Moved Temporarily"], first
        await asyncio.sleep(0.1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendto(sock, invite("reconnect-udp"), ("127.0.0.1", server.port))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)
        finally:
            sock.close()
        assert reply.startswith(b"SIP/2.0 302 "), reply
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
