"""Hostile SIP peers over TCP (and UDP where the same code reads them) — hhos16.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``: its gate clock is a
Wednesday 11:00 in Denver, so an ALLOW does not depend on the hour the suite runs at).

- A head whose lines all end in LF was never framed over TCP (the framing waited for
  CRLFCRLF): the dialer heard nothing and waited out its Timer B while UDP decided the
  same bytes. It is framed and answered now.
- A request without Content-Length over TCP was read as "no body": RFC 3261 §18.3 and
  §20.14 make the header mandatory on a stream ("MUST"), and without it the message's end
  is a guess. Answered 400 (reason phrase "Missing Content-Length"), then the connection
  is closed: what follows cannot be framed.
- One source could hold every TCP connection (``max_tcp_connections``) and lock the
  other dialers out: ``max_tcp_connections_per_source`` bounds each source address.
- A head whose lines end in CR alone was answered 505 (its "request line" ran to the
  first LF and did not end in SIP/2.0): it is a malformed message, 400.
- Found on the way: an LF head whose body holds a CRLFCRLF had its body's lines read as
  headers (a mode the head did not carry was decided on, over UDP); a 5,000-digit
  Content-Length over UDP raised (internal_error, unanswered); a non-numeric or doubled
  one over TCP closed the connection unanswered; a peer whose input ended part-way through
  a message lost the answer to its decided INVITE; a head of over 256 lines went
  unanswered (Timer B).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from structlog.testing import capture_logs

from tests.test_sip import (
    LISTED,
    _Slowed,
    compliance,
    front,
    invite,
    options,
    self_signed,
    tcp,
)

__all__ = ["front"]


async def _answers(reader: asyncio.StreamReader, wait: float = 2.0) -> bytes:
    """Everything the server writes until it closes or ``wait`` seconds pass quietly."""
    data = b""
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), wait)
        except TimeoutError:
            return data
        if not chunk:
            return data
        data += chunk


def _finals(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n")
            if line.startswith(b"SIP/2.0 ") and not line.startswith(b"SIP/2.0 1")]


class TestLineEnds:
    async def test_a_head_whose_lines_end_in_lf_is_framed_and_decided_over_tcp(self, front):
        """The bytes UDP decides (``wire.parse`` reads LF heads) are answered over TCP too:
        before, the framing waited for CRLFCRLF that never came."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("lf-only")).replace(b"\r\n", b"\n"))
        await writer.drain()
        data = await _answers(reader, 3)
        writer.close()
        assert _finals(data) == [b"SIP/2.0 302 Moved Temporarily"], data
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_lf_heads_pipelined_are_each_answered(self, front):
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("lf-a")).replace(b"\r\n", b"\n")
                     + tcp(invite("lf-b", number=LISTED)).replace(b"\r\n", b"\n")
                     + tcp(options("lf-c")))
        await writer.drain()
        data = await _answers(reader, 3)
        writer.close()
        assert sorted(_finals(data)) == [b"SIP/2.0 200 OK", b"SIP/2.0 302 Moved Temporarily",
                                         b"SIP/2.0 603 Decline"], data
        assert sorted(r["verdict"] for r in compliance(server)) == ["ALLOW", "BLOCK"]

    @pytest.mark.parametrize("over", ["udp", "tcp"])
    async def test_a_head_whose_lines_end_in_cr_alone_is_a_400_not_a_505(self, front,
                                                                          over):
        server = await front()
        message = invite("cr-only")
        head, _, _ = message.partition(b"\r\n\r\n")
        data = head.replace(b"\r\n", b"\r") + b"\r\r"
        if over == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))  # the Via asks for rport: answered here
            loop = asyncio.get_running_loop()
            await loop.sock_sendto(sock, data, ("127.0.0.1", server.port))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
            sock.close()
            assert reply.startswith(b"SIP/2.0 400 "), reply
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(tcp(data))
            await writer.drain()
            reply = await _answers(reader, 3)
            writer.close()
            assert _finals(reply)[:1] == [b"SIP/2.0 400 Bad Request"], reply
        assert b"CR alone" in reply
        assert compliance(server) == []


class TestContentLength:
    async def test_no_content_length_over_tcp_is_a_400_and_the_connection_closes(self,
                                                                                 front):
        """§18.3 / §20.14: mandatory on a stream. What follows (here an INVITE for a listed
        number, or a body) cannot be framed: never read as a request."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("no-length")).replace(b"Content-Length: 0\r\n", b"")
                     + tcp(invite("after", number=LISTED)))
        await writer.drain()
        data = await _answers(reader, 3)
        writer.close()
        assert _finals(data) == [b"SIP/2.0 400 Missing Content-Length"], data
        assert b"no-length@dialer" in data  # the dialer can match it
        assert b"Content-Length is required over TCP" in data
        assert compliance(server) == []
        assert server.stats.counts["no_content_length"] == 1
        assert server._tcp is not None
        assert server._tcp._connections == {}

    async def test_no_content_length_over_udp_is_still_no_body(self, front):
        """§18.3: over UDP the datagram's end is the message's end: decided."""
        server = await front()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        data = invite("udp-no-length", port=port).replace(b"Content-Length: 0\r\n", b"")
        await loop.sock_sendto(sock, data, ("127.0.0.1", server.port))
        while True:
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
            if not reply.startswith(b"SIP/2.0 100 "):
                break
        sock.close()
        assert reply.startswith(b"SIP/2.0 302 "), reply

    @pytest.mark.parametrize("length", [b"9" * 5000, b"99999999999999999999"],
                             ids=["5000-digits", "20-digits"])
    async def test_a_huge_content_length_over_udp_is_a_400_not_an_internal_error(
            self, front, length):
        """Python's ``int`` refuses a string of over 4,300 digits (ValueError): the
        datagram check raised, counted internal_error and left the dialer unanswered."""
        server = await front()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        data = invite("udp-huge", port=port).replace(b"Content-Length: 0",
                                                     b"Content-Length: " + length)
        await loop.sock_sendto(sock, data, ("127.0.0.1", server.port))
        reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
        sock.close()
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert server.stats.counts["internal_error"] == 0
        assert compliance(server) == []

    @pytest.mark.parametrize("length", [b"9" * 5000, b"-5", b"0\r\nContent-Length: 4"],
                             ids=["5000-digits", "negative", "given-twice"])
    async def test_a_content_length_that_frames_nothing_is_answered_then_closed(
            self, front, length):
        """Answered 400 (the dialer learns why at once, not from a closed socket), and the
        connection closed: what follows would be read as a request of the peer's choice."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("frames-nothing")).replace(
            b"Content-Length: 0", b"Content-Length: " + length) + b"abcd"
            + tcp(invite("smuggled", number=LISTED)))
        await writer.drain()
        data = await _answers(reader, 3)
        writer.close()
        assert _finals(data) == [b"SIP/2.0 400 Bad Request"], data
        assert compliance(server) == []
        assert server.stats.counts["internal_error"] == 0


class TestLengthAsParsed:
    @pytest.mark.parametrize(("spelt", "final", "decided"), [
        (b"Content-Length\x1c: %d", b"SIP/2.0 302 Moved Temporarily", 1),
        (b"Content-Length\xc2\xa0: %d", b"SIP/2.0 302 Moved Temporarily", 1),
        (b"Max-Forwards: 70\r\n Content-Length: %d", b"SIP/2.0 400 Missing Content-Length",
         0)], ids=["u001c", "nbsp", "folded"])
    async def test_the_body_is_never_the_next_request(self, front, spelt, final, decided):
        """The framing reads Content-Length as the parse files it: a name stripped of
        Unicode blanks (str.strip) is the length; a continuation line is part of the
        header above it, not a length. The body (an INVITE for a listed number) is never
        decided as a request."""
        server = await front()
        body = tcp(invite("in-body", number=LISTED))
        data = tcp(invite(f"spelt-{len(spelt)}")).replace(
            b"Max-Forwards: 70\r\n", b"").replace(b"Content-Length: 0",
                                                   spelt % len(body)) + body
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(data)
        await writer.drain()
        answers = await _answers(reader, 2)
        writer.close()
        assert _finals(answers) == [final], answers
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"] * decided


class TestPerSourceCap:
    async def test_one_source_cannot_take_every_connection(self, front):
        server = await front(max_tcp_connections_per_source=3,
                             allowed_sources=("127.0.0.0/8",))
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        with capture_logs() as logs:
            for _ in range(2):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                assert await asyncio.wait_for(reader.read(), 2) == b""  # closed unread
                writer.close()
        assert server.stats.counts["tcp_source_capped"] == 2
        [line] = [e for e in logs if e["event"] == "sip_tcp_source_capped"]
        assert line["source"] == "127.0.0.1"
        assert line["cap"] == 3
        # another source is served while this one is at its cap
        other = socket.create_connection(("127.0.0.1", server.port),
                                         source_address=("127.0.0.2", 0))
        other.setblocking(False)
        reader2, writer2 = await asyncio.open_connection(sock=other)
        writer2.write(tcp(invite("other-source")))
        await writer2.drain()
        assert _finals(await _answers(reader2, 2)) == [b"SIP/2.0 302 Moved Temporarily"]
        writer2.close()
        # the held connections still work; one closed frees a place
        r0, w0 = held[0]
        w0.write(tcp(invite("held")))
        await w0.drain()
        assert _finals(await _answers(r0, 1)) == [b"SIP/2.0 302 Moved Temporarily"]
        w0.close()
        await asyncio.sleep(0.2)
        reader3, writer3 = await asyncio.open_connection("127.0.0.1", server.port)
        writer3.write(tcp(invite("after-free")))
        await writer3.drain()
        assert _finals(await _answers(reader3, 1)) == [b"SIP/2.0 302 Moved Temporarily"]
        writer3.close()
        for _, w in held[1:]:
            w.close()
        assert server._tcp is not None
        await asyncio.sleep(0.2)
        assert sum(server._tcp.by_source.values()) == 0

    async def test_tls_handshakes_count_against_their_source(self, front, tmp_path):
        """Over TLS, a connection still in its handshake holds its place (a handshake is
        a private-key operation): past the source's cap, closed before any."""
        cert, key = self_signed(tmp_path)
        client = ssl.create_default_context(cafile=str(cert))
        server = await front(max_tcp_connections_per_source=1, tls=True, tls_port=0,
                             tls_certificate=str(cert), tls_key=str(key))
        _, silent = await asyncio.open_connection("127.0.0.1", server.tls_port)
        await asyncio.sleep(0.2)  # accepted: its handshake waits for a ClientHello
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", server.tls_port, ssl=client, server_hostname="127.0.0.1"),
                    5)
            assert server.stats.counts["tcp_source_capped"] == 1
        finally:
            silent.close()
        await asyncio.sleep(0.3)
        assert server._tls is not None
        assert dict(server._tls.by_source) == {}  # the failed handshake gave its place back

    @pytest.mark.parametrize(("address", "source"), [
        ("10.1.2.3", "10.1.2.3"), ("::ffff:10.1.2.3", "10.1.2.3"),
        ("2001:db8::1", "2001:db8::/64"), ("2001:db8::ffff:1", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64")])
    def test_a_source_is_an_address_or_an_ipv6_64(self, address, source):
        """One IPv6 host holds a /64: counted per address, it could open the cap again
        from each of 2**64 addresses."""
        from callguard.fronts.dual_stack import source_holder

        assert source_holder(address) == source

    def test_the_cap_must_be_positive(self):
        from callguard.errors import ConfigError
        from callguard.fronts.sip.server import SipSettings

        with pytest.raises(ConfigError, match="max_tcp_connections_per_source"):
            SipSettings(max_tcp_connections_per_source=0)



class TestHeadEnd:
    @pytest.mark.parametrize("over", ["udp", "tcp"])
    async def test_a_body_is_never_read_as_headers(self, front, over):
        """An LF head whose body holds a CRLFCRLF: the parse (aiosipua's rule: the first
        CRLFCRLF, else LFLF) read the body's lines as headers — here a mode and a
        location the head did not carry, decided on. Refused 400, nothing decided."""
        server = await front()
        body = b"X-Callguard-Mode: predictive\r\nX-Callguard-Location: 10001\r\n\r\n"
        # over UDP a Content-Length of 0 (the datagram's rest is trimmed): the parse's
        # body after its CRLFCRLF is empty, and nothing looked cut
        head = invite(f"smuggle-{over}").partition(b"\r\n\r\n")[0].replace(
            b"Content-Length: 0", b"Content-Length: %d" % (len(body) if over == "tcp" else 0))
        data = head.replace(b"\r\n", b"\n") + b"\n\n" + body
        if over == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
            loop = asyncio.get_running_loop()
            await loop.sock_sendto(sock, data, ("127.0.0.1", server.port))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
            sock.close()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(tcp(data))
            await writer.drain()
            reply = await _answers(reader, 2)
            writer.close()
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert b"would be read as headers" in reply
        assert compliance(server) == []


class TestEndOfInput:
    @pytest.mark.parametrize("cut", [b"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TC",
                                     b"MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 9"
                                     b"\r\n\r\nabc"], ids=["in-a-head", "in-a-body"])
    async def test_input_ended_inside_a_message_still_gets_the_earlier_answer(self, front,
                                                                              cut):
        """A dialer that shuts its sending side part-way through a message (its last
        write cut short) is still open for reading: its INVITE was decided and recorded,
        and the answer was lost when the connection closed at once."""
        server = await front()
        server.gate = _Slowed(server.gate, 0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("cut-after")) + cut)
        await writer.drain()
        writer.write_eof()
        data = await _answers(reader, 3)
        writer.close()
        assert _finals(data) == [b"SIP/2.0 302 Moved Temporarily"], data
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["tcp_cut_at_close"] == 1


class TestSlowPeers:
    @pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
    async def test_a_head_written_a_byte_at_a_time_is_framed_once(self, front, eol):
        """Every split of the head's end is found, the search resuming three bytes back
        (not the whole head again per byte a slow peer writes); the ping before it is one
        keep-alive."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.transport.set_write_buffer_limits(0)
        data = b"\r\n\r\n" + tcp(invite(f"slow-{len(eol)}")).replace(b"\r\n", eol)
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0)
        answers = await _answers(reader, 2)
        writer.close()
        assert answers.startswith(b"\r\n")  # the ping's pong
        assert _finals(answers) == [b"SIP/2.0 302 Moved Temporarily"], answers
        assert server.stats.counts["tcp_keepalive"] == 1


class TestUnparsed:
    @pytest.mark.parametrize("over", ["udp", "tcp"])
    async def test_too_many_header_lines_is_a_400_not_silence(self, front, over):
        """aiosipua's parse refuses a head of over 256 lines: the request was dropped
        unanswered (over TCP on a connection kept open), the dialer waiting out Timer B.
        Answered 400 from the lines an answer echoes; nothing decided."""
        server = await front()
        data = invite(f"many-{over}").replace(b"Max-Forwards: 70\r\n",
                                               b"Max-Forwards: 70\r\n" + b"X: y\r\n" * 300)
        if over == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
            loop = asyncio.get_running_loop()
            await loop.sock_sendto(sock, data, ("127.0.0.1", server.port))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65536), 3)
            sock.close()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(tcp(data) + tcp(options("next")))
            await writer.drain()
            reply = await _answers(reader, 2)
            writer.close()
            assert _finals(reply) == [b"SIP/2.0 400 Bad Request", b"SIP/2.0 200 OK"]
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert f"many-{over}@dialer".encode() in reply
        assert b"the header block could not be read" in reply
        assert compliance(server) == []
