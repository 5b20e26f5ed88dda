"""A fresh look at hhos16's TCP framing (``_Framer``) — hrev35.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``: its gate clock is a
Wednesday 11:00 in Denver, so an ALLOW does not depend on the hour the suite runs at).

- Line breaks before a start line were kept in the framer's buffer, unbounded, until a
  second LF came: a peer sending CRs alone (or one LF, then CRs) grew a connection's
  buffer past ``max_datagram_bytes`` without end (20 MB in 5 s here) until the idle sweep.
- Each keep-alive in a pipelined run of them copied and counted the whole run behind it
  (``bytearray.lstrip``, ``count``) before the framer yielded: 3 MB of CRLFCRLF pings on
  one connection held the event loop ~20 s (0.8 s before hhos16), every other dialer's
  INVITE waiting behind it. And TCP pings were answered past ``rate_per_source`` (UDP
  keep-alives count against it): each a pong written, a system call.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest

from tests.test_sip import compliance, front, invite, self_signed, tcp

__all__ = ["front"]


async def _final(reader: asyncio.StreamReader, within: float) -> bytes:
    """The first final response's status line, past any 100 (Trying), within ``within`` s."""
    async with asyncio.timeout(within):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line = head.split(b"\r\n", 1)[0]
            if not line.startswith(b"SIP/2.0 1"):
                return line


async def _read_or_nothing(reader: asyncio.StreamReader, wait: float) -> bytes:
    """What arrives within ``wait`` seconds; b"" when nothing does (or at the end)."""
    try:
        return await asyncio.wait_for(reader.read(65536), wait)
    except TimeoutError:
        return b""


class TestLineBreaksBeforeAStartLine:
    @pytest.mark.parametrize("lead", [b"", b"\n", b"\r\n"], ids=["cr", "lf-cr", "crlf-cr"])
    async def test_a_run_of_line_breaks_is_bounded_by_the_limit(self, front, lead):
        """No second LF, no start line: the buffer grew until the idle sweep. Past
        ``max_datagram_bytes`` the connection is closed (``oversized``), as a head is."""
        server = await front(tcp_idle_timeout_ms=60_000)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(lead + b"\r" * (8 * server.settings.max_datagram_bytes))
        await writer.drain()
        try:
            rest = await asyncio.wait_for(reader.read(), 5)  # the server's close
        finally:
            writer.close()
        assert rest == b""
        assert server.stats.counts["oversized"] == 1
        assert server._tcp is not None
        assert server._tcp._connections == {}

    async def test_line_breaks_then_a_request_are_still_skipped(self, front):
        """§7.5 still holds: CRs and one CRLF before an INVITE are ignored, decided."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\r\r\r\n\r\r" + tcp(invite("after-breaks")))
        await writer.drain()
        try:
            line = await _final(reader, 5)
        finally:
            writer.close()
        assert line == b"SIP/2.0 302 Moved Temporarily"
        assert server.stats.counts["tcp_keepalive"] == 0


class TestPingFlood:
    async def test_a_ping_flood_does_not_hold_up_another_dialer(self, front):
        """2 MiB of pipelined CRLFCRLF pings on one connection; an INVITE on another
        connection just after is answered within 5 s (before: ~13 s, the loop held)."""
        server = await front(allowed_sources=("127.0.0.1/32", "127.0.0.2/32"))
        flood_reader, flood_writer = await asyncio.open_connection("127.0.0.1", server.port)
        pongs = asyncio.create_task(flood_reader.read(-1))
        flood_writer.write(b"\r\n\r\n" * (1 << 19))
        await asyncio.sleep(0.1)  # the server is reading the pings
        # Another dialer is another source: the pings spend their own source's
        # rate_per_source (a keep-alive counts, as over UDP), so from 127.0.0.1 too the
        # INVITE may rightly get a 503 Retry-After once the loop reads them in batches.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port,
                                                       local_addr=("127.0.0.2", 0))
        started = time.monotonic()
        writer.write(tcp(invite("behind-pings")))
        try:
            line = await _final(reader, 5)
        finally:
            writer.close()
            flood_writer.close()
            pongs.cancel()
        assert line == b"SIP/2.0 302 Moved Temporarily", time.monotonic() - started

    async def test_pings_over_tcp_count_against_the_source_rate(self, front):
        """``rate_per_source`` counts a source's messages; a UDP keep-alive is one, and so
        is a TCP ping now: past the bucket it is dropped unanswered (``rate_limited``)."""
        server = await front(rate_per_source=0.001, burst_per_source=5.0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\r\n\r\n" * 50)
        await writer.drain()
        data = b""
        while chunk := await _read_or_nothing(reader, 1):
            data += chunk
        writer.close()
        assert data == b"\r\n" * 5
        assert server.stats.counts["tcp_keepalive"] == 5
        assert server.stats.counts["rate_limited"] == 45


class TestAnswersBeforeAClose:
    @pytest.mark.parametrize("then", [b"big", b"breaks"])
    async def test_an_oversized_message_does_not_lose_the_earlier_answer(self, front,
                                                                         then):
        """An INVITE, then on the same connection a message past ``max_datagram_bytes``
        (a declared megabyte body; a run of line breaks): the connection closes
        (``oversized``), but only once the INVITE's answer is written — it was closed at
        once, the decision recorded and its answer lost, as hhos16 fixed for an input cut
        at its end."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        after = (tcp(invite("big")).replace(b"Content-Length: 0", b"Content-Length: 1000000")
                 if then == b"big" else b"\r" * (2 * server.settings.max_datagram_bytes))
        writer.write(tcp(invite("before-oversized")) + after)
        await writer.drain()
        try:
            reply = await asyncio.wait_for(reader.read(), 5)  # to the server's close
        finally:
            writer.close()
        assert b"SIP/2.0 302 Moved Temporarily" in reply, reply
        assert server.stats.counts["oversized"] == 1
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestTlsRecordThatDoesNotDecrypt:
    async def test_a_bad_record_closes_the_connection_quietly_and_frees_its_place(
            self, front, tmp_path):
        """A TLS record that does not decrypt, once the handshake is done: the reading
        side counted it (``tcp_error``), then ``wait_closed`` raised the same
        ``ssl.SSLError`` (an OSError, not a ConnectionError) out of the connection's
        task — asyncio's handler logged "Unhandled exception in client_connected_cb" and
        its traceback in plain text, once per such connection, outside the redacted log."""
        cert, key = self_signed(tmp_path)
        server = await front(max_tcp_connections_per_source=1, tls=True, tls_port=0,
                             tls_certificate=str(cert), tls_key=str(key))
        loop = asyncio.get_running_loop()
        unhandled: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
        try:
            client = ssl.create_default_context(cafile=str(cert))
            raw = socket.create_connection(("127.0.0.1", server.tls_port))
            secure = client.wrap_socket(raw, server_hostname="127.0.0.1",
                                        do_handshake_on_connect=False)
            await asyncio.to_thread(secure.do_handshake)
            plain = socket.socket(fileno=secure.detach())
            plain.sendall(b"\x17\x03\x03\x00\x10" + b"x" * 16)  # application data, forged
            await asyncio.sleep(0.5)
            plain.close()
            await asyncio.sleep(0.2)
        finally:
            loop.set_exception_handler(None)
        assert server.stats.counts["tcp_error"] == 1
        assert [c.get("message") for c in unhandled] == []
        assert server._tls is not None
        assert dict(server._tls.by_source) == {}  # the place is free again
