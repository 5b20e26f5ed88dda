"""hrev153: hsip32's bound on a transaction moved from a closed TCP connection to UDP
must never leave the dialer that really sent the UDP copy without its final answer.

Real sockets on loopback (``tests/test_sip.py``'s ``front``); the decision held back
(``_Slowed``, the real gate behind it) so the copy arrives while it is being decided.
"""

from __future__ import annotations

import asyncio
import socket
import struct

from tests.test_hsip30_moves import _final_head, _over_tcp
from tests.test_hsip32_moves import _padded
from tests.test_sip import QUIET_T1, Client, _Slowed, compliance, front, invite, tcp

__all__ = ["front"]


async def _reset_after(port: int, data: bytes) -> None:
    """``data`` on a new connection, then the connection reset (SO_LINGER 0: a dialer
    whose host dropped it), not ended: a peer that only ends its input is held open for
    its answer (``_Tcp.hold``) and moves nothing."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.03)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _as_a_udp_client(client: Client, request: bytes, t1: float) -> list[bytes]:
    """RFC 3261 §17.1.1.2's INVITE client transaction over UDP: ``request`` sent, then
    again at timer A (T1, doubling) while nothing came ("Calling"); a provisional
    response stops the copies ("Proceeding"); a final one ends it; timer B (64·T1) too.
    What came, in order."""
    loop = asyncio.get_running_loop()
    started, interval, got = loop.time(), t1, []
    client.send(request)
    resend_at = started + interval
    while loop.time() - started < 64 * t1 + 1.0:  # timer B, and a margin for the load
        wait = max(0.01, (resend_at - loop.time()) if resend_at else 0.25)
        try:
            reply = await asyncio.wait_for(loop.sock_recv(client.sock, 65536), wait)
        except TimeoutError:
            if resend_at is not None and loop.time() >= resend_at:
                client.send(request)
                interval *= 2
                resend_at = loop.time() + interval
            continue
        got.append(reply)
        if reply.startswith(b"SIP/2.0 1"):
            resend_at = None  # Proceeding: no more copies
        else:
            return got
    return got


class TestTheFinalAnswerOfAMovedTransaction:
    async def test_reaches_a_dialer_that_sends_its_copies_as_rfc_3261_says(self, front):
        """An INVITE over TCP (four Via rows: a proxy path), its connection reset while it
        is decided (held back 0.6 s), then the dialer's own copies by UDP (timer A): the
        transaction moves there. hsip32: at 100 ms the copy got the 100 (Trying), 447
        bytes of the 1,012 the 500-byte copy allowed; the dialer, "Proceeding" (RFC 3261
        §17.1.1.2), sent no more copies, and the 302 (570 bytes) was never sent, nor any
        of timer G's copies (``moved_answer_capped`` 11): a call decided and recorded, the
        dialer told nothing. Now a moved transaction withholds its 100: the dialer's copies
        go on, each paying, and the 302 goes when decided."""
        server = await front(t1_ms=50, max_retransmits=10, budget_ms=3000)
        server.gate = _Slowed(server.gate, 0.6)
        request = _padded(invite("hb1"), 4)
        await _reset_after(server.port, tcp(request))  # gone while it is decided
        await asyncio.sleep(0.1)  # the reset reaches the front
        client = Client(server.port)
        replies = await _as_a_udp_client(client, request, 0.05)
        statuses = [r.split(b"\r\n", 1)[0] for r in replies]
        assert statuses, dict(server.stats.counts)
        assert statuses[-1] == b"SIP/2.0 302 Moved Temporarily", statuses
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
        assert server.stats.counts["moved_trying_withheld"] == 1


class TestTheAckOfA513:
    async def test_does_not_end_the_transaction_it_was_not_moved_to(self, front):
        """A 287-byte UDP copy of an 8 KB INVITE begun over TCP is answered a stateless
        513 and the transaction is not moved (hsip32): "the same request over TCP still
        gets the answer decided once". But a client ACKs every non-2xx final response
        (RFC 3261 §17.1.1.3), the 513 too, with the INVITE's branch: that ACK ended the
        TCP transaction (``ack_absorbed``), and the TCP copy was decided a second time —
        two records for one request, another 302 (another To tag)."""
        server = await front(t1_ms=QUIET_T1)
        big = tcp(_padded(invite("ak1"), 110))
        first = await _over_tcp(server.port, big, 0.5)
        await asyncio.sleep(0.1)  # the close reaches the front
        client = Client(server.port)
        client.send(invite("ak1"))
        # hsip33: absorbed, no 513 (it reached the real dialer's transaction); an ACK by
        # UDP with the branch (forged, or a client's of the 513 before) ends nothing
        assert await client.silence(0.3) == []
        client.send(invite("ak1").replace(b"INVITE", b"ACK"))
        await asyncio.sleep(0.2)
        assert server.stats.counts["ack_absorbed"] == 0
        again = await _over_tcp(server.port, big, 0.5)
        assert _final_head(again) == _final_head(first) != b""
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
