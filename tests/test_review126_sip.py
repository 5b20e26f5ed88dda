"""Reviewer hrev126: hsip25's 400s over UDP, and a Via port in other scripts' digits.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``), real sockets.

A forged allowed UDP source must not get back more than it sent (hrev46). hrev46 bounded
the 513 and the 400 past the parse's 256 lines; the 400s of a request that parses were
not: two Content-Length values (hsip25's new 400, ``_cut``), a datagram cut short, or a
To given twice, each with ~240 short ``t:`` lines (each echoed as ``To: ...;tag=...``),
were answered 2.4 times their size (3,387 bytes in, 8,285 out).
"""

from __future__ import annotations

import pytest

from tests.test_review46_sip_amplification import _many_to_lines
from tests.test_sip import QUIET_T1, Client, compliance, front, invite

__all__ = ["front"]


class TestRefusalsAreNoAmplifier:
    @pytest.mark.parametrize(("tail", "event"), [
        (b"l:0\nl:1\n\n", "truncated"),  # two Content-Length values (hsip25)
        (b"l:0\n", "truncated"),  # no empty line: cut short
        (b"l:0\n\n", "repeated_header"),  # To given twice
    ])
    async def test_a_400_is_never_larger_than_the_datagram(self, front, tail, event):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        sent = _many_to_lines(240, b"\n") + tail
        client.send(sent)
        replies = await client.silence(0.5)
        assert all(len(reply) <= len(sent) for reply in replies), (
            len(sent), [len(r) for r in replies])
        assert server.stats.counts[event] == 1
        assert server.stats.counts["answer_too_large"] == 1
        assert compliance(server) == []

    async def test_a_dialers_refused_invite_is_still_answered(self, front):
        """A real INVITE refused (two Content-Length values): its 400 is smaller."""
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        twice = invite("cl-twice-126").replace(b"Content-Length: 0\r\n",
                                               b"Content-Length: 0\r\nl: 5\r\n")
        client.send(twice)
        [reply] = await client.replies(0.5)
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert server.stats.counts["answer_too_large"] == 0


_ARABIC_5999 = "\u0665\u0669\u0669\u0669".encode()  # what int() reads as 5999


class TestViaPortInOtherDigits:
    """RFC 3261 §25.1: ``port = 1*DIGIT``, ASCII digits. A sent-by port in Arabic-Indic
    digits was read by aiosipua's ``int`` as 5999 (and by ``peek``'s ``isdigit``): the
    INVITE was decided (302) and, without rport, answered at port 5999 of the source.
    Refused 400 now, answered at the source port, nothing decided."""

    @pytest.mark.parametrize("rport", [b";rport", b""])
    async def test_is_a_400_at_the_source_port(self, front, rport):
        from tests.test_hostile25_sip import _udp
        server = await front()
        sent = invite("via-digits").replace(b"127.0.0.1:5999;rport",
                                            b"127.0.0.1:" + _ARABIC_5999 + rport, 1)
        assert _ARABIC_5999 in sent
        reply = await _udp(server.port, sent)
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert b"port" in reply
        assert compliance(server) == []
        after = await _udp(server.port, invite("after-via-digits"))
        assert after.startswith(b"SIP/2.0 302 "), after

    async def test_is_a_400_over_tcp(self, front):
        import asyncio

        from tests.test_hostile16_sip import _answers, _finals
        from tests.test_sip import tcp
        server = await front()
        sent = invite("via-digits-tcp").replace(b"127.0.0.1:5999",
                                                b"127.0.0.1:" + _ARABIC_5999, 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(sent))
        await writer.drain()
        reply = await _answers(reader, 3)
        writer.close()
        assert _finals(reply)[:1] == [b"SIP/2.0 400 Bad Request"], reply
        assert compliance(server) == []
