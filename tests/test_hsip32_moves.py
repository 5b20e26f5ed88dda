"""hsip32: hrev144's leftovers on moved SIP transactions.

A clear-text ACK of an INVITE first sent over TLS is refused as a clear copy of the
INVITE is (``_known``), and a transaction moved from a closed connection to UDP sends
there no more than the datagrams that asked for it allow (``_ANSWER_OWN_BYTES`` over
each, as ``_stateless``), timer G's copies counted.

The table is tested directly (pure, synthetic clock); the front with real sockets on
loopback (``tests/test_sip.py``'s ``front``).
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
from tests.test_hsip30_moves import _final_head, _over_tcp
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, self_signed, tcp

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


def _ack(request: bytes) -> bytes:
    return request.replace(b"INVITE", b"ACK")


class TestAClearAckOfATlsInvite:
    async def test_is_refused_and_the_tls_copy_still_gets_its_answer(self, front, tmp_path):
        """An INVITE over TLS answered 302, its connection closed, then an ACK of it in
        clear (UDP) from the same host: RFC 3261 §17.1.1.3 sends the ACK of a non-2xx over
        the INVITE's own transport, so a clear one is what anyone on the path can send.
        main: the ACK ended the transaction (``_linger``, zero for a reliable one) and
        the dialer's copy over a new TLS connection was a new request: decided a second
        time, recorded twice."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("ta1").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")

        async def over_tls(data: bytes, wait: float) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
            writer.write(data)
            await writer.drain()
            reply = await _answers(reader, wait)
            writer.close()
            return reply

        first = await over_tls(request, 1.0)
        assert _finals(first) == [_302], first
        await asyncio.sleep(0.1)  # the close reaches the front
        Client(server.port).send(_ack(invite("ta1")))
        await asyncio.sleep(0.2)
        assert server.stats.counts["tls_downgrade_refused"] == 1
        again = await over_tls(request, 1.0)
        assert _finals(again) == [_302], again
        assert _final_head(again) == _final_head(first) != b""
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_an_ack_over_tls_still_ends_it(self, front, tmp_path):
        """The dialer's own ACK, on a new TLS connection: absorbed as before."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("ta2").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
        writer.write(request)
        await writer.drain()
        assert _finals(await _answers(reader, 1.0)) == [_302]
        writer.write(_ack(request))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        assert server.stats.counts["ack_absorbed"] == 1
        assert server.stats.counts["tls_downgrade_refused"] == 0


# --- a moved transaction's bound (hrev144: 287 bytes in, 81,220 out) -----------------------


def _key(name: str) -> object:
    return transaction_key(branch=f"z9hG4bK{name}", sent_by="10.0.0.1:5060", method="INVITE",
                           call_id=name, cseq=1, from_tag="t")


_ANSWER = b"SIP/2.0 302 x\r\n" + b"V" * 85 + b"\r\n\r\n"  # 104 bytes


class TestTheTableBoundsAMovedTransaction:
    def test_timer_g_sends_what_the_datagram_allows_and_no_more(self):
        """Moved with 350 bytes: the copy sent at the move (104) and two of timer G's
        (208), then nothing to timer H. main had no bound: ten copies after the move."""
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("b1")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.respond(key, _ANSWER, "tcp", now=0.0)
        table.move(key, "udp", reliable=False, now=1.0, budget=350)
        assert table.spend(key, len(_ANSWER))  # the answer to the datagram that moved it
        copies = [t / 10 for t in range(10, 400) if table.due(t / 10)]
        assert copies == [1.5, 2.5]
        assert table.counts["moved_answer_capped"] == 7  # G's others, each skipped
        assert table.counts["no_ack"] == 1
        assert len(table) == 0

    def test_each_datagram_asking_again_brings_its_own(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("b2")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.respond(key, _ANSWER, "tcp", now=0.0)
        table.move(key, "udp", reliable=False, now=1.0, budget=110)
        assert table.spend(key, len(_ANSWER))
        assert table.bounded(key) == 6
        assert not table.spend(key, len(_ANSWER))
        table.credit(key, 100)
        assert table.spend(key, len(_ANSWER))
        assert table.bounded(key) == 2

    def test_unbounded_as_before_without_a_budget_or_over_a_stream(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = _key("b3")
        table.receive(key, "INVITE", reliable=False, now=0.0)
        table.respond(key, _ANSWER, "udp", now=0.0)
        table.credit(key, 100)
        assert table.bounded(key) is None
        assert len([t for t in range(1, 400) if table.due(t / 10)]) == 10  # G, to H
        other = _key("b4")
        table.receive(other, "INVITE", reliable=True, now=0.0)
        table.move(other, "tcp-b", reliable=True, now=1.0, budget=0)
        assert table.bounded(other) is None

    def test_the_100_trying_of_a_transaction_moved_while_deciding_is_withheld(self):
        """hrev153: not sent, whatever the bound (a dialer given a 100 sends no more
        copies, RFC 3261 §17.1.1.2, and its copies pay for the final response), nor
        given to a copy; a copy while deciding asks for nothing (``resend_size`` 0)."""
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0, trying=0.1))
        key = _key("b5")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.move(key, "udp", reliable=False, now=0.05, budget=5000)
        table.proceeding(key, lambda: b"SIP/2.0 100 Trying\r\n" + b"v" * 60, "udp", now=0.05)
        assert table.due(0.2) == []
        assert table.counts["moved_trying_withheld"] == 1
        assert table.counts["trying"] == 0
        assert table.receive(key, "INVITE", reliable=False, now=0.3) == (Receipt.PENDING, None)
        assert table.resend_size(key) == 0
        assert table.bounded(key) == 5000
        table.respond(key, _ANSWER, "udp", now=0.4)
        assert table.resend_size(key) == len(_ANSWER)

    def test_an_unbounded_transaction_still_sends_its_100(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0, trying=0.1))
        key = _key("b6")
        table.receive(key, "INVITE", reliable=False, now=0.0)
        trying = b"SIP/2.0 100 Trying\r\n\r\n"
        table.proceeding(key, lambda: trying, "udp", now=0.0)
        assert table.due(0.2) == [(trying, "udp")]
        assert table.receive(key, "INVITE", reliable=False, now=0.3) == (
            Receipt.PENDING, trying)


def _padded(request: bytes, rows: int) -> bytes:
    """``request`` with ``rows`` more Via rows under its top one (a long proxy path): its
    answer echoes them all (RFC 3261 §8.2.6.2), a copy of it without them is small."""
    line, top, rest = request.split(b"\r\n", 2)
    pad = b"".join(b"Via: SIP/2.0/TCP 10.9.%d.%d:5060;branch=z9hG4bKpad%04d\r\n"
                   % (i // 200, i % 200, i) for i in range(rows))
    return b"\r\n".join((line, top)) + b"\r\n" + pad + rest


class TestAMovedTransactionIsNoAmplifier:
    async def test_a_small_udp_copy_of_a_large_tcp_invite_is_absorbed(self, front):
        """hrev144: an 8 KB INVITE over TCP, its connection closed, then a 287-byte copy by
        UDP (a datagram's source is spoofable) moved the transaction there: its 7 KB
        answer and timer G's copies of it, 63,180 bytes over 64·T1 here (220 times the
        copy; 81,220 in the review's run). hsip32 answered the copy a 513 built from it;
        hsip33: nothing (the 513 reached the real dialer's transaction, matched by
        branch: ``tests/test_hsip33_moves.py``). The transaction is not moved, and the
        dialer's copy over TCP still gets the 302 decided once."""
        server = await front(t1_ms=50, max_retransmits=10)
        big = tcp(_padded(invite("am1"), 110))
        copy = invite("am1")
        assert len(big) > 6000
        first = await _over_tcp(server.port, big, 0.5)
        assert _finals(first) == [_302], first[:200]
        await asyncio.sleep(0.1)  # the close reaches the front
        client = Client(server.port)
        client.send(copy)
        replies = await client.silence(64 * 0.05 + 0.3)  # to timer H and past it
        assert replies == []
        assert sum(len(r) for r in replies) <= len(copy) + _ANSWER_OWN_BYTES
        assert server.stats.counts["moved_answer_too_large"] == 1

    async def test_the_tcp_copy_still_gets_the_answer(self, front):
        server = await front(t1_ms=QUIET_T1)
        big = tcp(_padded(invite("am2"), 110))
        first = await _over_tcp(server.port, big, 0.5)
        await asyncio.sleep(0.1)
        client = Client(server.port)
        client.send(invite("am2"))
        assert await client.silence(0.3) == []  # absorbed (hsip32: a 513)
        again = await _over_tcp(server.port, big, 0.5)
        assert _finals(again) == [_302], again[:200]
        assert _final_head(again) == _final_head(first) != b""
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_the_dialers_own_udp_copy_is_answered_within_what_it_sent(self, front):
        """The same INVITE by UDP (its Via rows and all): the 302, and timer G's copies
        only as far as the copy's bytes and ``_ANSWER_OWN_BYTES`` go, to timer H."""
        server = await front(t1_ms=50, max_retransmits=10)
        request = _padded(invite("am3"), 20)
        assert _finals(await _over_tcp(server.port, tcp(request), 0.5)) == [_302]
        await asyncio.sleep(0.1)
        client = Client(server.port)
        client.send(request)
        replies = await client.replies(64 * 0.05 + 0.3)
        assert replies, "the dialer's copy is answered"
        assert {r.split(b"\r\n", 1)[0] for r in replies} == {_302}
        assert sum(len(r) for r in replies) <= len(request) + _ANSWER_OWN_BYTES
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_each_retransmission_by_udp_is_answered(self, front):
        """A dialer whose answer was lost sends its INVITE again (timer A): each copy
        brings its own bytes and is answered, up to ``max_retransmits``."""
        server = await front(t1_ms=QUIET_T1, max_retransmits=3)
        request = _padded(invite("am4"), 20)
        assert _finals(await _over_tcp(server.port, tcp(request), 0.5)) == [_302]
        await asyncio.sleep(0.1)
        client = Client(server.port)
        for _ in range(3):
            client.send(request)
            assert [r.split(b"\r\n", 1)[0] for r in await client.replies(0.2)] == [_302]
        assert server.stats.counts["moved_answer_capped"] == 0
