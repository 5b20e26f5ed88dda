"""A transaction's answers moved to another transport (hsip30: edges hrev135 left open).

A transaction's answers move to a copy of its request from the first request's own
address once the first connection is closed (hsip26, hrev135). Such a move must follow
the rules the first answer follows: where a UDP answer goes (RFC 3261 §18.2.2, RFC 3581),
timer G over an unreliable transport (§17.2.1), and never from TLS to clear text.
``tests/test_hsip30_table.py`` holds the table's bounds.

The table is tested directly (pure, synthetic clock); the moves on real fronts
(``tests/test_sip.py``'s ``front``) with real sockets on loopback.
"""

from __future__ import annotations

import asyncio
import ssl

from callguard.fronts.sip.server import _ANSWER_OWN_BYTES
from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    TimerSettings,
    transaction_key,
)
from tests.test_hostile16_sip import _answers, _finals
from tests.test_sip import (
    QUIET_T1,
    Client,
    compliance,
    front,
    invite,
    self_signed,
    tcp,
)

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


def _key(name: str, method: str) -> object:
    return transaction_key(branch=f"z9hG4bK{name}", sent_by="10.0.0.1:5060", method=method,
                           call_id=name, cseq=1, from_tag="t")


def _statuses(replies: list[bytes]) -> list[bytes]:
    return [r.split(b"\r\n", 1)[0] for r in replies]


def _final_head(data: bytes) -> bytes:
    """The head of the final response in what a stream brought: a 100 (Trying) may come
    first when deciding takes over 100 ms (``TimerSettings.trying``; a loaded machine)."""
    at = data.find(b"SIP/2.0 3")
    return data[at:].split(b"\r\n\r\n", 1)[0] if at >= 0 else b""


async def _over_tcp(port: int, data: bytes, wait: float) -> bytes:
    """``data`` on a new connection; what comes back in ``wait`` s of quiet; closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    reply = await _answers(reader, wait)
    writer.close()
    return reply


# --- the table (pure) -----------------------------------------------------------------------


class TestAMoveToUdpStartsTimerG:
    """§17.2.1: timer G retransmits an INVITE's final response over an unreliable
    transport until its ACK or timer H. A transaction begun over TCP keeps G off; moved
    to UDP (the dialer sent the INVITE again by datagram, its connection gone, §18.1.1)
    it kept G off (main: ``move`` took no transport), and a lost datagram was the
    dialer's only answer."""

    def test_answered_over_tcp_then_moved(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("g1", "INVITE")
        assert table.receive(key, "INVITE", reliable=True, now=0.0)[0] is Receipt.NEW
        table.respond(key, b"SIP/2.0 302 x\r\n\r\n", "tcp", now=0.0)
        assert table.due(10.0) == []  # reliable: no timer G
        receipt, again = table.receive(key, "INVITE", reliable=False, now=10.0)
        assert receipt is Receipt.RESEND
        assert again is not None
        table.move(key, "udp", reliable=False, now=10.0)
        sent = [(t, dest) for t in (10.5, 11.0, 11.5, 12.0) for _, dest in table.due(t)]
        assert sent == [(10.5, "udp"), (11.5, "udp")]  # T1, then 2·T1 later
        table.receive(key, "ACK", reliable=False, now=12.0)
        assert table.due(16.0) == []  # the ACK stops it
        assert len(table) == 1  # ... and the transaction lingers T4 (timer I, unreliable)
        table.due(17.0)
        assert len(table) == 0

    def test_timer_h_is_kept_from_the_first_answer(self):
        """The move does not start timer H again: the transaction ends 64·T1 after its
        answer, as it would have over TCP, with G's copies sent until then."""
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("g2", "INVITE")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.respond(key, b"SIP/2.0 302 x\r\n\r\n", "tcp", now=0.0)
        table.move(key, "udp", reliable=False, now=1.0)
        copies = [t / 10 for t in range(10, 400) if table.due(t / 10)]
        assert copies[:4] == [1.5, 2.5, 4.5, 8.5]
        assert copies[-1] <= 32.0
        assert table.counts["no_ack"] == 1
        assert len(table) == 0

    def test_moved_while_deciding(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("g3", "INVITE")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.move(key, "udp", reliable=False, now=0.1)
        table.respond(key, b"SIP/2.0 302 x\r\n\r\n", "udp", now=0.2)
        assert [dest for _, dest in table.due(0.7)] == ["udp"]

    def test_a_move_between_connections_stays_reliable(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("g4", "INVITE")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.respond(key, b"SIP/2.0 302 x\r\n\r\n", "tcp-a", now=0.0)
        table.move(key, "tcp-b", reliable=True, now=1.0)
        assert table.due(5.0) == []
        assert table.destination(key) == "tcp-b"


# --- the moves, on real fronts --------------------------------------------------------------


class TestWhereAMovedUdpAnswerGoes:
    async def test_without_rport_to_the_via_port_as_the_first_answer(self, front):
        """``force_rport = false``: a UDP request without ``rport`` is answered at its
        Via's sent-by port (§18.2.2), the first answer as every copy. A transaction moved
        from a closed TCP connection to a datagram was answered at the datagram's source
        port (main: the sender got the 302, the port its Via named nothing): the copy was
        handled without reading its Via."""
        server = await front(force_rport=False, t1_ms=QUIET_T1)
        sender, listener = Client(server.port), Client(server.port)
        request = invite("mv1", port=listener.sock.getsockname()[1]).replace(b";rport", b"")
        first = await _over_tcp(server.port, tcp(request), 0.3)
        assert _finals(first) == [_302], first
        await asyncio.sleep(0.1)  # the close reaches the front
        sender.send(request)
        replies = await listener.replies(0.3)
        assert _statuses(replies) == [_302], replies
        assert await sender.silence(0.05) == []
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_with_force_rport_to_the_source_port_as_before(self, front):
        server = await front(t1_ms=QUIET_T1)
        sender, listener = Client(server.port), Client(server.port)
        request = invite("mv2", port=listener.sock.getsockname()[1]).replace(b";rport", b"")
        assert _finals(await _over_tcp(server.port, tcp(request), 1.0)) == [_302]
        await asyncio.sleep(0.1)
        sender.send(request)
        assert _statuses(await sender.replies(0.3)) == [_302]
        assert await listener.silence(0.05) == []


# a softphone's offer (PCMU, PCMA, G.722, G.729, Opus, DTMF events): a dialer's INVITE's body
_SDP = (b"v=0\r\no=dialer 2890844526 2890844526 IN IP4 127.0.0.1\r\ns=call\r\n"
        b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 9 18 111 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
        b"a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"
        b"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
        b"a=maxptime:150\r\na=rtcp:49171 IN IP4 127.0.0.1\r\na=sendrecv\r\n"
        b"m=video 0 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=inactive\r\n")


def _with_sdp(request: bytes, candidates: int = 0) -> bytes:
    """``request`` with its offer, and ``candidates`` ICE candidate lines in it (RFC 8839
    §5.1: a dialer behind a NAT offers several)."""
    sdp = _SDP + b"".join(b"a=candidate:%d 1 udp 2130706431 10.0.%d.1 49170 typ host\r\n"
                          % (i, i) for i in range(candidates))
    return request.replace(b"Content-Length: 0\r\n\r\n", b"Content-Type: application/sdp"
                           b"\r\nContent-Length: %d\r\n\r\n%s" % (len(sdp), sdp))


class TestTimerGAfterAMoveToUdp:
    async def test_the_moved_answer_is_sent_again_until_its_ack(self, front):
        """T1 50 ms: G's copies at 50, 150, 350 ms after the copy. main: the one copy,
        then nothing (the transaction kept its TCP's "reliable").

        The INVITE carries its offer, as a dialer's does: a moved transaction sends over
        UDP what the datagrams that asked for it allow, G's copies counted (hsip32,
        ``_over_budget``), and the 284 bytes of a bodiless INVITE allow its answer once.
        With the offer alone (802 bytes, 1,314 with ``_ANSWER_OWN_BYTES``) the 407-byte
        answer went three times, exactly the ``>= 3`` asserted: 33 bytes more in the
        answer and two (hsip33). With 24 candidates the bound allows one answer more
        than the copy and G's four to 750 ms (past the ACK), and ``moved_answer_capped``
        says the bound cut nothing: this tests timer G; the bound's edge is hsip32's
        pure test."""
        server = await front(t1_ms=50)
        client = Client(server.port)
        request = _with_sdp(invite("mg1"), candidates=24)
        assert len(request) + _ANSWER_OWN_BYTES >= 6 * 407  # the copy, G's four, one more
        assert _finals(await _over_tcp(server.port, tcp(request), 0.3)) == [_302]
        await asyncio.sleep(0.1)
        client.send(request)
        arrivals = await client.arrivals(0.6)
        assert len(arrivals) >= 3, arrivals  # the copy, then timer G's
        client.send(invite("mg1").replace(b"INVITE", b"ACK"))
        await asyncio.sleep(0.05)
        await client.silence(0.0)  # what crossed the ACK
        assert await client.silence(0.5) == []
        assert server.stats.counts["retransmitted"] >= 2
        assert server.stats.counts["moved_answer_capped"] == 0  # G's, not the bound's
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestNoMoveFromTlsToClearText:
    async def test_a_tls_answer_is_never_sent_in_clear(self, front, tmp_path):
        """An INVITE over TLS, its connection closed, sent again from the same address
        over TCP or UDP: main answered the copy in clear (the 302 and its decision,
        P-Asserted-Identity, over the network the dialer chose TLS against). The move is
        refused (``tls_downgrade_refused``); a new TLS connection still gets the answer."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        client = ssl.create_default_context(cafile=str(cert))
        request = invite("td1").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")

        async def over_tls(wait: float) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=client, server_hostname="127.0.0.1")
            writer.write(request)
            await writer.drain()
            reply = await _answers(reader, wait)
            writer.close()
            return reply

        first = await over_tls(1.0)
        assert _finals(first) == [_302], first
        await asyncio.sleep(0.1)
        plain = await _over_tcp(server.port, tcp(invite("td1")), 0.5)
        assert _finals(plain) == [], plain
        udp = Client(server.port)
        udp.send(invite("td1"))
        assert await udp.silence(0.4) == []
        assert server.stats.counts["tls_downgrade_refused"] == 2
        again = await over_tls(1.0)
        assert _finals(again) == [_302], again
        # the 302s' heads (a 100 Trying may come first on a loaded machine: it did, hsip32)
        assert _final_head(again) == _final_head(first) != b""
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
