"""A forged UDP source must not get back more than was sent — hrev46.

A stateless answer to a request the front will not read (513 for a datagram past
``max_datagram_bytes``, 400 for one past the parse's 256 header lines) echoes the request's
Via, From, To, Call-ID and CSeq lines: compact names grow (``t:`` becomes ``To: ``), LF
line ends become CRLF, and each To line got the answer's tag. A datagram of many short To
lines, from a forged allowed source, was answered up to 1.6 times its size (513) and 1.5
times (400): an amplifier the ``_too_large`` docstring said could not happen ("never larger
than what was sent"). Over UDP such an answer is now not sent (``answer_too_large``); no
real dialer's answer is near that size (its head is a small part of an oversized INVITE).
"""

from __future__ import annotations

from tests.test_sip import QUIET_T1, Client, compliance, front, invite

__all__ = ["front"]


def _many_to_lines(count: int, end: bytes = b"\r\n") -> bytes:
    head = (b"INVITE sip:+18015550123@127.0.0.1 SIP/2.0\r\n"
            b"v:SIP/2.0/UDP 127.0.0.1;rport;branch=z9hG4bKamp\r\n"
            b"f:<sip:a@h>;tag=1\r\ni:amp\r\nCSeq:1 INVITE\r\n"
            + b"".join(b"t:<sip:%d@h>\r\n" % i for i in range(count)))
    return head.replace(b"\r\n", end)


class TestNoAmplification:
    async def test_an_oversized_datagram_is_never_answered_larger_than_it_was(self, front):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        sent = _many_to_lines(250, b"\n") + b"X-Pad: " + b"p" * 9000 + b"\n\n"
        assert len(sent) > server.settings.max_datagram_bytes
        client.send(sent)
        replies = await client.silence(0.5)
        received = server.settings.max_datagram_bytes + 1  # what the front read of it
        assert all(len(reply) <= received for reply in replies), [len(r) for r in replies]
        assert server.stats.counts["oversized"] == 1
        assert server.stats.counts["answer_too_large"] == 1
        assert compliance(server) == []

    async def test_a_head_cut_at_the_limit_is_never_answered_larger(self, front):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        sent = _many_to_lines(20, b"\n") + b"".join(  # no blank line within the limit
            b"t:<sip:%030d@h>\n" % i for i in range(230))
        assert len(sent) > server.settings.max_datagram_bytes
        client.send(sent)
        replies = await client.silence(0.5)
        received = server.settings.max_datagram_bytes + 1
        assert all(len(reply) <= received for reply in replies), [len(r) for r in replies]
        assert server.stats.counts["answer_too_large"] == 1
        assert compliance(server) == []

    async def test_a_datagram_past_256_header_lines_is_never_answered_larger(self, front):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        sent = (_many_to_lines(250) + b"".join(b"X:%d\r\n" % i for i in range(300))
                + b"Content-Length: 0\r\n\r\n")
        assert len(sent) <= server.settings.max_datagram_bytes
        client.send(sent)
        replies = await client.silence(0.5)
        assert all(len(reply) <= len(sent) for reply in replies), [len(r) for r in replies]
        assert server.stats.counts["answer_too_large"] == 1
        assert compliance(server) == []

    async def test_a_dialers_large_invite_is_still_answered_513(self, front):
        """A real oversized INVITE (a large SDP): its 513 is far smaller than it."""
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        big = invite("big-sdp").replace(b"Content-Length: 0",
                                        b"Content-Length: 9000") + b"v" * 9000
        client.send(big)
        [reply] = await client.replies(0.3)
        assert reply.startswith(b"SIP/2.0 513 Message Too Large\r\n"), reply
        assert server.stats.counts["answer_too_large"] == 0
