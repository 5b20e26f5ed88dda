"""Hostile SIP input, session 28 (hsip25): a CR alone inside the request line.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``), real sockets.

RFC 3261 §7.1: "No CR or LF are allowed except in the end-of-line CRLF sequence". A CR
alone inside the Request-URI (``INVITE sip:80155<CR>50123@gw SIP/2.0``) split the request
line for the parse, which then found no request line and dropped the request unanswered,
over UDP and TCP (where the connection was closed without a word): the dialer waited out
its Timer B (32 s) on an INVITE the front had refused. A CR alone anywhere else in the
head was already answered 400 ("a line ends in CR alone"); this one is answered the same,
from the headers an answer echoes, nothing decided, nothing recorded, no number logged.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from structlog.testing import capture_logs

from tests.test_hostile16_sip import _answers, _finals
from tests.test_sip import compliance, front, invite, tcp

__all__ = ["front"]


_SDP = (b"v=0\r\no=dialer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")


def _cr_in_uri(branch: str) -> bytes:
    """A dialer's INVITE (with its SDP offer) whose Request-URI holds a CR alone, inside
    the number. With its SDP: over UDP a request the parse refused is answered only when
    the answer is no larger than it (``_stateless``'s ``at_most``, hrev46)."""
    head = invite(branch).replace(b"INVITE sip:80155", b"INVITE sip:80155\r", 1)
    return head.replace(b"Content-Length: 0\r\n\r\n",
                        b"Content-Type: application/sdp\r\nContent-Length: "
                        + str(len(_SDP)).encode() + b"\r\n\r\n" + _SDP)


async def _udp(port: int, data: bytes) -> bytes:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))  # the Via asks for rport: answered here
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_sendto(sock, data, ("127.0.0.1", port))
        while True:
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
            if not reply.startswith(b"SIP/2.0 1"):
                return reply
    finally:
        sock.close()


class TestCrInTheRequestLine:
    @pytest.mark.parametrize("over", ["udp", "tcp"])
    async def test_is_answered_400_nothing_decided_and_the_front_serves_on(self, front,
                                                                            over):
        server = await front()
        assert b"\r5" in _cr_in_uri("cr-uri")  # the CR is inside the number
        with capture_logs() as logs:
            if over == "udp":
                reply = await _udp(server.port, _cr_in_uri("cr-uri"))
                assert reply.startswith(b"SIP/2.0 400 "), reply
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(tcp(_cr_in_uri("cr-uri")))
                await writer.drain()
                reply = await _answers(reader, 3)
                writer.close()
                assert _finals(reply)[:1] == [b"SIP/2.0 400 Bad Request"], reply
        assert b"CR alone" in reply
        assert b"cr-uri@dialer" in reply  # the dialer can match it to its INVITE
        assert b"INVITE sip:" not in reply  # the request line is not echoed
        assert compliance(server) == []
        assert "80155" not in repr(logs)
        assert server.stats.counts["bare_cr"] == 1
        # the front still decides the next call
        after = await _udp(server.port, invite("after-cr"))
        assert after.startswith(b"SIP/2.0 302 "), after
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestContentLengthTwiceOverUdp:
    async def test_two_values_are_a_400_as_over_tcp(self, front):
        """Over TCP two Content-Length values are a 400 ("not one number", hhos16): which
        one frames the body? Over UDP the first was read and the call decided (302), the
        second left for whoever reads next. Refused the same now (§7.3.1: not a list;
        §20.14), nothing recorded; two rows of one value stay one length."""
        server = await front()
        twice = invite("cl-twice").replace(b"Content-Length: 0\r\n",
                                           b"Content-Length: 0\r\nl: 5\r\n")
        reply = await _udp(server.port, twice)
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert b"Content-Length is not one number" in reply
        assert compliance(server) == []
        same = invite("cl-same").replace(b"Content-Length: 0\r\n",
                                         b"Content-Length: 0\r\nContent-Length: 0\r\n")
        assert (await _udp(server.port, same)).startswith(b"SIP/2.0 302 ")
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
