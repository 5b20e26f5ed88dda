"""hrev144: review of hsip30's moved answers, as a hostile peer would send them.

A request first sent over TLS, its connection closed, sent again in clear is not given
its answer (hsip30, ``_downgrade_refused``): the answer waits for a new TLS connection.
The clear copies that were refused must not use up what that new connection is owed.

The table is tested directly (pure, synthetic clock); the front with real sockets on
loopback (``tests/test_sip.py``'s ``front``). The tests but the first pass on hsip30 too:
they hold what the review found sound, so a later change cannot undo it unseen.
"""

from __future__ import annotations

import asyncio
import ssl

from callguard.fronts.sip.transactions import ServerTransactions, TimerSettings, transaction_key
from tests.test_hostile16_sip import _answers, _finals
from tests.test_hsip30_moves import _over_tcp
from tests.test_sip import QUIET_T1, Client, compliance, front, invite, self_signed, tcp

__all__ = ["front"]

_302 = b"SIP/2.0 302 Moved Temporarily"


class TestRefusedClearCopiesOweNothing:
    async def test_the_tls_copy_is_answered_after_many_clear_ones(self, front, tmp_path):
        """``max_retransmits`` 3 (the fixture's). hsip30: each refused clear copy counted
        as a retransmission answered (the table's ``sends``, taken before the refusal),
        though nothing was sent to it; after three of them the dialer's own copy over a
        new TLS connection was absorbed (``retransmit_capped``) and its INVITE, decided
        and recorded ALLOW, never answered — a dialer falling back TLS -> TCP -> UDP
        (RFC 3263 §4.3), or anyone sending the copy in clear, took the answer away."""
        cert, key = self_signed(tmp_path)
        server = await front(tls=True, tls_port=0, tls_certificate=str(cert),
                             tls_key=str(key), t1_ms=QUIET_T1)
        context = ssl.create_default_context(cafile=str(cert))
        request = invite("rb1").replace(b"SIP/2.0/UDP", b"SIP/2.0/TLS")

        async def over_tls(wait: float) -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.tls_port, ssl=context, server_hostname="127.0.0.1")
            writer.write(request)
            await writer.drain()
            reply = await _answers(reader, wait)
            writer.close()
            return reply

        assert _finals(await over_tls(1.0)) == [_302]
        await asyncio.sleep(0.1)  # the close reaches the front
        udp = Client(server.port)
        for _ in range(4):
            udp.send(invite("rb1"))
        assert await udp.silence(0.3) == []
        assert _finals(await _over_tcp(server.port, tcp(invite("rb1")), 0.3)) == []
        again = await over_tls(1.0)
        assert _finals(again) == [_302], again
        assert server.stats.counts["tls_downgrade_refused"] == 5
        assert server.stats.counts["retransmit_capped"] == 0
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]


class TestTimerGStartsOnce:
    """A transaction moved to UDP again (the front moves one only from a closed
    connection, so not from UDP; the table's contract all the same): timer G is not
    started over, and the copies end at the first answer's timer H."""

    def test_a_second_move_does_not_restart_g(self):
        table = ServerTransactions(TimerSettings(t1=0.5, t2=4.0))
        key = transaction_key(branch="z9hG4bKg9", sent_by="10.0.0.1:5060", method="INVITE",
                              call_id="g9", cseq=1, from_tag="t")
        table.receive(key, "INVITE", reliable=True, now=0.0)
        table.respond(key, b"SIP/2.0 302 x\r\n\r\n", "tcp", now=0.0)
        table.move(key, "udp-a", reliable=False, now=1.0)
        copies = [t / 10 for t in range(10, 30) if table.due(t / 10)]
        table.move(key, "udp-b", reliable=False, now=3.0)
        table.move(key, "tcp-c", reliable=True, now=3.0)
        copies += [t / 10 for t in range(30, 400) if table.due(t / 10)]
        assert copies == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]  # one G, to H
        assert len(table) == 0


class TestAForgedRepeatTakesNothing:
    async def test_another_sent_by_is_merged_not_moved(self, front):
        """The TCP INVITE's connection closed, the same request by UDP with another Via
        sent-by (another port): another transaction key, the same Call-ID, From tag and
        CSeq — 482 (§8.2.2.2), never the first one's 302 and never a second decision."""
        server = await front(t1_ms=QUIET_T1)
        assert _finals(await _over_tcp(server.port, tcp(invite("fr1")), 0.3)) == [_302]
        await asyncio.sleep(0.1)
        client = Client(server.port)
        client.send(invite("fr1").replace(b"127.0.0.1:5999", b"127.0.0.1:5998", 1))
        replies = await client.replies(0.3)
        assert [r.split(b"\r\n", 1)[0] for r in replies] == [
            b"SIP/2.0 482 Loop Detected"], replies
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW"]
