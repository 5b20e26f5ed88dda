"""hsip33: a forged or lost UDP copy of a request begun over TCP must not fail a real call.

A UDP copy too small to pay for the answer is absorbed, not answered 513: a response is
matched to its client transaction by branch and CSeq method, not by transport (RFC 3261
§17.1.3), so the 513 reached the real dialer's INVITE transaction and ended it
(§17.1.1.2), whoever sent the copy. The copies' bytes wait on the transaction
(``credit``): the dialer's retransmissions (timer A) pay for the answer together, and
what is sent stays within what came in. A copy over a new connection from the dialer's
host takes back a transaction a datagram moved to UDP (§18.2.2: a response to a stream's
request goes over a stream).

The table is tested directly (pure, synthetic clock); the front with real sockets on
loopback (``tests/test_sip.py``'s ``front``).
"""

from __future__ import annotations

import asyncio

from callguard.fronts.sip.server import _ANSWER_OWN_BYTES
from callguard.fronts.sip.transactions import Receipt, ServerTransactions, transaction_key
from tests.test_hostile16_sip import _answers, _finals
from tests.test_hsip30_moves import _final_head, _over_tcp
from tests.test_hsip32_moves import _padded
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, tcp

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


async def answered_over_tcp(port: int, request: bytes
                            ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``request`` over a new TCP connection, its final answer (a 302) read past any 100;
    the connection left open, as a dialer keeps it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(tcp(request))
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    while head.startswith(b"SIP/2.0 1"):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(_302)
    return reader, writer


def _heads(replies: list[bytes]) -> list[bytes]:
    return [r.split(b"\r\n", 1)[0] for r in replies]


class TestAForgedUdpCopy:
    async def test_its_refusal_never_reaches_the_dialer(self, front):
        """An 8 KB INVITE over TCP answered 302, its connection closed; a forger sends a
        small UDP copy with its Via (the branch and sent-by are in the INVITE, readable
        on the path), which names the dialer's own UDP port. hsip32: a stateless 513 to
        that port, where the dialer's transaction matched it by branch (§17.1.3) — the
        call failed. Now nothing is sent to anyone, and the TCP copy gets the 302."""
        server = await front(t1_ms=QUIET_T1, force_rport=False)
        dialer, forger = Client(server.port), Client(server.port)
        port = dialer.sock.getsockname()[1]
        big = tcp(_padded(invite("fg1", port=port), 110))
        first = await _over_tcp(server.port, big, 0.5)
        assert _finals(first) == [_302], first[:200]
        await asyncio.sleep(0.1)  # the close reaches the front
        forger.send(invite("fg1", port=port).replace(b";rport", b""))
        await asyncio.sleep(0.2)
        assert await dialer.silence(0.3) == []
        assert await forger.silence(0.0) == []
        assert server.stats.counts["moved_answer_too_large"] == 1
        again = await _over_tcp(server.port, big, 0.5)
        assert _final_head(again) == _final_head(first) != b""
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]

    async def test_a_copy_that_moved_it_gives_it_back_to_the_dialers_connection(
            self, front):
        """The forged copy pays for the answer (it is the whole request) and moves the
        transaction to UDP, to the port its source names on the dialer's host. hsip32:
        the dialer's own copy over a new TCP connection got nothing — its answer went on
        to the forger's port. Now a copy over a stream from the host takes it back."""
        server = await front(t1_ms=QUIET_T1)
        request = invite("fg2")
        first = await _over_tcp(server.port, tcp(request), 0.3)
        assert _finals(first) == [_302], first[:200]
        await asyncio.sleep(0.1)
        forger = Client(server.port)
        forger.send(request)
        assert _heads(await forger.replies(0.2)) == [_302]  # within what it sent
        again = await _over_tcp(server.port, tcp(request), 0.5)
        assert _final_head(again) == _final_head(first) != b""
        assert await forger.silence(0.2) == []
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


    async def test_of_a_live_connection_sends_nothing_over_it(self, front):
        """The INVITE's TCP connection still open, small UDP copies of it (the forger's):
        hsip32 sent the answer again over the connection for each, up to
        ``max_retransmits`` (3 here), 25 times the copy's size for an 8 KB INVITE. What
        the TCP peer gets is not a datagram's to choose: nothing, and nothing to the
        forger (``udp_copy_of_stream``)."""
        server = await front(t1_ms=QUIET_T1)
        big = tcp(_padded(invite("fg3"), 110))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(big)
        await writer.drain()
        assert _finals(await _answers(reader, 0.5)) == [_302]
        forger = Client(server.port)
        for _ in range(5):
            forger.send(invite("fg3"))
        assert await _answers(reader, 0.5) == b""
        writer.close()
        assert await forger.silence(0.0) == []
        assert server.stats.counts["udp_copy_of_stream"] == 5
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestTheDialersOwnUdpCopies:
    async def test_too_small_one_by_one_they_pay_together(self, front):
        """A dialer whose TCP connection reset sends its INVITE again by UDP (timer A),
        each copy smaller than the answer and ``_ANSWER_OWN_BYTES``: hsip32 answered
        every one 513, and the dialer, its transaction ended by the first, placed no
        call. Now the first copies are absorbed and their bytes kept; the copy that
        brings the total past the answer's size gets the 302, within what came in."""
        server = await front(t1_ms=QUIET_T1, max_retransmits=10)
        big = tcp(_padded(invite("dc1"), 40))
        first = await _over_tcp(server.port, big, 0.5)
        answer = len(_final_head(first)) + 4
        copy = invite("dc1")
        assert answer > 2 * (len(copy) + _ANSWER_OWN_BYTES)  # no copy pays alone
        await asyncio.sleep(0.1)
        client = Client(server.port)
        heads: list[bytes] = []
        sent = got = 0
        for _ in range(7):  # timer A's copies over timer B (§17.1.1.2)
            client.send(copy)
            sent += len(copy) + _ANSWER_OWN_BYTES
            replies = await client.silence(0.15)
            got += sum(len(r) for r in replies)
            heads += _heads(replies)
            if heads:
                break
        late = await client.silence(0.3)  # a 302 later than 0.15 s, one copy more sent
        got += sum(len(r) for r in late)
        heads += _heads(late)
        assert heads, heads
        assert set(heads) == {_302}, heads  # hrev161: [302, 302] under load is right
        assert server.stats.counts["moved_answer_too_large"] >= 2  # no copy paid alone
        assert got <= sent
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestAUdpAckOfAStreamTransaction:
    async def test_holds_nothing_and_the_tcp_ack_still_ends_it(self, front):
        """Item 3: UDP ACKs with the branch of an INVITE answered over an open TCP
        connection are absorbed (``ack_other_transport``) and open nothing: the table
        holds the one transaction however many come, and the dialer's ACK over its
        connection ends it (timer I zero over TCP)."""
        server = await front(t1_ms=QUIET_T1)
        request = invite("ua1")
        _reader, writer = await answered_over_tcp(server.port, request)
        client = Client(server.port)
        ack = request.replace(b"INVITE", b"ACK")
        for i in range(200):
            client.send(ack if i % 2 else invite(f"ua1x{i}").replace(b"INVITE", b"ACK"))
        await asyncio.sleep(0.3)
        assert server.stats.counts["ack_other_transport"] == 100
        assert len(server.transactions) == 1
        writer.write(tcp(ack))
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        assert server.stats.counts["ack_absorbed"] == 1
        assert len(server.transactions) == 0


class TestTheFastPathIsCharged:
    async def test_a_flood_of_known_branch_datagrams_meets_the_rate(self, front):
        """Item 4: a retransmission of an answered request is answered without a parse
        (``received``'s fast path), after ``rate_allows`` has taken the source's token:
        a flood of known-branch copies is rate limited as any other."""
        server = await front(t1_ms=QUIET_T1, rate_per_source=20.0, burst_per_source=20.0)
        client = Client(server.port)
        request = invite("fp1")
        client.send(request)
        assert _heads(await client.replies(0.2)) == [_302]
        for _ in range(100):
            client.send(request)
        await asyncio.sleep(0.3)
        assert server.stats.counts["rate_limited"] >= 50
        counts = server.stats.counts
        assert counts["invite_resend"] + counts["invite_absorbed"] <= 50


class TestCopiesWaitForTheMove:
    """The table: a stream transaction's datagram credit waits for its move."""

    def _table(self) -> tuple[ServerTransactions, object]:
        table = ServerTransactions()
        key = transaction_key(branch="z9hG4bKw1", sent_by="10.0.0.1:5060", method="INVITE",
                              call_id="w1", cseq=1, from_tag="t")
        assert table.receive(key, "INVITE", reliable=True, now=0.0)[0] is Receipt.NEW
        table.respond(key, b"x" * 1000, "tcp", now=0.0)
        return table, key

    def test_credit_before_the_move_is_the_moves_bound(self):
        table, key = self._table()
        table.credit(key, 300)
        table.credit(key, 400)
        assert table.waiting(key) == 700
        assert table.bounded(key) is None
        table.move(key, "udp", reliable=False, now=1.0, budget=350)
        assert table.bounded(key) == 1050
        assert table.waiting(key) == 0

    def test_a_stream_copy_takes_back_a_bounded_move(self):
        table, key = self._table()
        table.move(key, "udp", reliable=False, now=1.0, budget=5000)
        table.move(key, "tcp2", reliable=True, now=1.2)
        assert table.bounded(key) is None
        assert table.destination(key) == "tcp2"
        assert [t for t in range(15, 400) if table.due(t / 10)] == []  # no timer G
        assert len(table) == 0  # timer H
