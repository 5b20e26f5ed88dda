"""The SIP front as a hostile peer sees it — hsip18.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``, its gate clock a
weekday inside calling hours), real TCP sockets:

- A request over TCP past ``rate_per_source`` was dropped unanswered: the dialer's INVITE
  waited out Timer B (32 s) on a connection that stayed open. Over a stream the source is
  no spoofed address: a stateless 503 with Retry-After, nothing decided (UDP stays silent).
- INVITEs being decided had no cap: a flood against a stalled store held a task and up
  to two Redis connections each, up to ``max_transactions`` (65,536), past what
  ``fdlimit`` left for files and FastAGI. ``[sip] max_in_flight``: past it, 503.
- A TCP message past ``max_datagram_bytes`` closed the connection with no answer (over
  UDP it gets 513): its head is answered 513 first, and the close lingers while the peer
  is still sending the body, so the kernel's reset does not eat the answer.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace

import pytest

from callguard.errors import ConfigError
from callguard.fdlimit import ConnectionCaps, fit_caps
from callguard.fronts.sip.server import SipSettings
from tests.test_sip import (
    QUIET_T1,
    Client,
    _Slowed,
    compliance,
    front,
    invite,
    self_signed,
    tcp,
)

__all__ = ["front"]


async def _read_to_close(reader: asyncio.StreamReader, within: float = 10, *,
                         reset: list[bool] | None = None) -> bytes:
    """Everything the server writes until it closes; a reset ends it too (noted in
    ``reset``)."""
    data = b""
    async with asyncio.timeout(within):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                if reset is not None:
                    reset.append(True)
                return data
            if not chunk:
                return data
            data += chunk


def _status_lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\r\n") if line.startswith(b"SIP/2.0 ")]


class TestRateLimitedOverTcp:
    async def test_a_tcp_invite_past_the_rate_is_answered_503_with_retry_after(self, front):
        """The second INVITE of a source whose bucket holds one: 503, Retry-After the
        seconds a token takes (1 / rate), never a 302; decided and recorded once."""
        server = await front(rate_per_source=0.01, burst_per_source=1.0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(tcp(invite("rl-first")))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            while head.startswith(b"SIP/2.0 100 "):
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"SIP/2.0 302 "), head
            writer.write(tcp(invite("rl-second")))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        finally:
            writer.close()
        assert head.startswith(b"SIP/2.0 503 Service Unavailable\r\n"), head
        assert b"\r\nRetry-After: 100\r\n" in head
        assert b"branch=z9hG4bKrl-second" in head
        assert b"Contact:" not in head
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["rate_limited"] == 1
        assert server.stats.counts["rate_limited_answered"] == 1

    async def test_over_udp_a_request_past_the_rate_is_still_dropped(self, front):
        """A datagram's source may be forged: past the rate, nothing is sent back."""
        server = await front(rate_per_source=0.01, burst_per_source=1.0, t1_ms=QUIET_T1)
        client = Client(server.port)
        client.send(invite("rl-udp-1"))
        client.send(invite("rl-udp-2"))
        replies = await client.replies(0.5)
        assert [r.split(b"\r\n", 1)[0] for r in replies] == [
            b"SIP/2.0 302 Moved Temporarily"]
        assert server.stats.counts["rate_limited_answered"] == 0


class TestTooLargeOverTcp:
    @pytest.mark.parametrize("sent", [0, 5_000, 300_000],
                             ids=["body-not-sent", "body-started", "body-streaming"])
    async def test_a_declared_body_past_the_limit_is_answered_513(self, front, sent):
        """A Content-Length past ``max_datagram_bytes`` (a large SDP): 513 Message Too
        Large from the head, nothing decided, then the close — the answer still arrives
        when the peer is sending the body (read and dropped until it stops)."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(tcp(invite("big")).replace(b"Content-Length: 0",
                                                b"Content-Length: 1000000"))
        sending = asyncio.create_task(_send(writer, b"v" * sent))
        reset: list[bool] = []
        try:
            data = await _read_to_close(reader, reset=reset)
        finally:
            sending.cancel()
            writer.close()
        assert _status_lines(data) == [b"SIP/2.0 513 Message Too Large"], data[:300]
        # an orderly close, not a reset: a reset may erase an answer the peer has not
        # read yet (RFC 9112 §9.6), on stacks other than Linux's loopback
        assert reset == []
        assert b"branch=z9hG4bKbig" in data
        assert compliance(server) == []
        assert server.stats.counts["oversized"] == 1
        assert server.stats.counts["too_large_answered"] == 1

    async def test_a_head_past_the_limit_is_answered_513_from_its_whole_lines(self, front):
        """A header block longer than the limit (a proxy's many Via, Record-Route):
        answered 513 from the lines that arrived whole, then closed."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        padded = tcp(invite("long-head")).replace(
            b"Max-Forwards: 70\r\n",
            b"Max-Forwards: 70\r\n" + b"".join(b"X-Pad-%d: %0100d\r\n" % (i, i)
                                               for i in range(200)))
        writer.write(padded)
        await writer.drain()
        try:
            data = await _read_to_close(reader)
        finally:
            writer.close()
        assert _status_lines(data) == [b"SIP/2.0 513 Message Too Large"], data[:300]
        assert b"Call-ID: long-head@dialer" in data
        assert b"X-Pad" not in data
        assert compliance(server) == []

    async def test_a_flood_of_line_breaks_past_the_limit_is_closed_unanswered(self, front):
        """No start line, nothing to answer: closed as before."""
        server = await front()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\r" * (2 * server.settings.max_datagram_bytes))
        await writer.drain()
        try:
            data = await _read_to_close(reader)
        finally:
            writer.close()
        assert data == b""
        assert server.stats.counts["too_large_answered"] == 0


async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """``data`` in 4 KiB pieces, as a dialer streams a body; stops when the server closes."""
    try:
        for at in range(0, len(data), 4096):
            writer.write(data[at:at + 4096])
            await writer.drain()
    except (ConnectionError, OSError):
        return


class TestInFlightCap:
    async def test_an_invite_past_max_in_flight_is_503_and_others_are_still_served(
            self, front):
        """Two decisions held back (a stalled store), cap 2: a third INVITE is answered
        503 at once — nothing decided or recorded, its retransmission the same 503 — the
        two are answered when their store answers, and the next INVITE is decided."""
        server = await front(max_in_flight=2, budget_ms=5000, t1_ms=QUIET_T1)
        server.gate = _Slowed(server.gate, 1.0)
        client = Client(server.port)
        for branch in ("held-1", "held-2", "over"):
            client.send(invite(branch))
        loop = asyncio.get_running_loop()
        replies: list[bytes] = []
        started = loop.time()
        while not any(b"z9hG4bKover" in r for r in replies) and loop.time() - started < 30:
            replies += await client.replies(0.05)
        [busy] = [r for r in replies if b"z9hG4bKover" in r]
        assert busy.startswith(b"SIP/2.0 503 Service Unavailable\r\n"), busy
        assert b"\r\nRetry-After: 1\r\n" in busy
        assert b"max_in_flight" in busy
        client.send(invite("over"))  # its retransmission: the same answer, no decision
        def finals() -> list[bytes]:
            return sorted(r.split(b"\r\n", 1)[0] for r in replies
                          if not r.startswith(b"SIP/2.0 100 "))

        while len(finals()) < 4 and loop.time() - started < 30:
            replies += await client.replies(0.05)
        assert finals() == [b"SIP/2.0 302 Moved Temporarily"] * 2 + [
            b"SIP/2.0 503 Service Unavailable"] * 2, replies
        assert len(compliance(server)) == 2
        assert server.stats.counts["refused_busy"] == 1
        client.send(invite("after"))  # room again: decided
        replies = []
        while not replies and loop.time() - started < 30:
            replies += [r for r in await client.replies(0.05)
                        if b"z9hG4bKafter" in r and not r.startswith(b"SIP/2.0 100 ")]
        assert replies[0].startswith(b"SIP/2.0 302 "), replies
        assert len(compliance(server)) == 3

    def test_max_in_flight_below_one_is_refused(self):
        with pytest.raises(ConfigError, match="max_in_flight"):
            SipSettings(max_in_flight=0)


class TestFdlimitCountsSipCalls:
    """``fdlimit`` counts SIP's INVITEs being decided (``sip_calls``): with Redis stores
    each may hold two Redis connections, which the caps left no room for."""

    def test_sip_calls_with_redis_stores_need_descriptors(self):
        without = ConnectionCaps(fastagi=100, http=10, sip_tcp=10, sessions=50,
                                 redis_per_call=2)
        with_sip = replace(without, sip_calls=1000)
        assert with_sip.needed() - without.needed() == 2 * 1000

    def test_sip_calls_are_lowered_with_the_rest_when_they_do_not_fit(self):
        wanted = ConnectionCaps(fastagi=1000, http=100, sip_tcp=100, sessions=256,
                                redis_per_call=2, sip_calls=1024)
        caps = fit_caps(wanted, limit=2048)
        assert caps.needed() <= 2048
        assert 1 <= caps.sip_calls < 1024

    def test_with_embedded_stores_sip_calls_stay(self):
        wanted = ConnectionCaps(fastagi=5000, http=100, sip_tcp=100, sessions=256,
                                sip_calls=1024)
        caps = fit_caps(wanted, limit=2048)
        assert caps.needed() <= 2048
        assert caps.sip_calls == 1024


class TestTooLargeOverTls:
    async def test_a_tls_message_past_the_limit_is_answered_513_too(self, front, tmp_path):
        """Over TLS as over TCP: the head answered 513, then the close."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key))
        context = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
        writer.write(tcp(invite("tls-big")).replace(b"SIP/2.0/TCP", b"SIP/2.0/TLS").replace(
            b"Content-Length: 0", b"Content-Length: 1000000"))
        await writer.drain()
        try:
            data = await _read_to_close(reader)
        finally:
            writer.close()
        assert _status_lines(data) == [b"SIP/2.0 513 Message Too Large"], data[:300]
        assert compliance(server) == []


class TestTooLargeOverUdp:
    async def test_an_oversized_datagram_with_lf_ended_lines_is_answered_513(self, front):
        """A head of lines ended by LF alone (read as over TCP, ``_BLANK_LINE``): its
        oversized datagram was dropped — only CRLFCRLF ended a head here — and the
        dialer waited out Timer B."""
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        big = invite("lf-big").replace(b"Content-Length: 0",
                                       b"Content-Length: 9000") + b"v" * 9000
        client.send(big.replace(b"\r\n", b"\n"))
        [reply] = await client.replies(0.3)
        assert reply.startswith(b"SIP/2.0 513 Message Too Large\r\n"), reply
        assert b"branch=z9hG4bKlf-big" in reply
        assert compliance(server) == []
