"""A flood of OPTIONS (or BYEs, REGISTERs) must not take the INVITEs' places (hsip26).

Over UDP a non-INVITE server transaction keeps its place in the table 64·T1 (timer J,
RFC 3261 §17.2.2: 32 s) to answer retransmissions. One allowed peer sending OPTIONS at
2,048 a second (a fifth of the default ``rate_per_source``) filled the 65,536 places,
and every dialer's INVITE was answered 503, nothing decided, for as long as it went on.
Such requests now take half the table at most (counted ``table_full_others``, answered
503 Retry-After); INVITEs and CANCELs keep the rest. The table itself is tested directly
(pure, synthetic clock); one socket test on a real front.
"""

from __future__ import annotations

from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    TimerSettings,
    transaction_key,
)
from tests.test_sip import Client, front, invite, options

__all__ = ["front"]


def _key(i: int, method: str) -> object:
    return transaction_key(branch=f"z9hG4bK{method}{i}", sent_by="10.0.0.1:5060",
                           method=method, call_id=f"c{i}", cseq=1, from_tag="t")


class TestTable:
    def test_other_requests_take_half_the_table_at_most(self):
        table = ServerTransactions(TimerSettings(t1=0.5, max_transactions=8))
        receipts = [table.receive(_key(i, "OPTIONS"), "OPTIONS", reliable=False,
                                  now=0.0)[0] for i in range(8)]
        assert receipts == [Receipt.NEW] * 4 + [Receipt.FULL] * 4
        assert table.counts["table_full_others"] == 4
        for i in range(4):  # INVITEs keep their half, a CANCEL is never refused for it
            assert table.receive(_key(i, "INVITE"), "INVITE", reliable=False,
                                 now=0.0)[0] is Receipt.NEW
        assert table.receive(_key(9, "CANCEL"), "CANCEL", reliable=False,
                             now=0.0)[0] is Receipt.FULL  # the whole table is full now

    def test_places_come_back_when_the_others_expire(self):
        """Timer J frees a place (the count follows the table), as does ``forget``."""
        table = ServerTransactions(TimerSettings(t1=0.5, max_transactions=4))
        for i in range(2):
            key = _key(i, "BYE")
            assert table.receive(key, "BYE", reliable=False, now=0.0)[0] is Receipt.NEW
            table.respond(key, b"SIP/2.0 481 x\r\n\r\n", None, now=0.0)
        assert table.receive(_key(2, "BYE"), "BYE", reliable=False, now=1.0)[0] is (
            Receipt.FULL)
        table.due(32.0)  # 64·T1
        assert len(table) == 0
        assert table.receive(_key(3, "BYE"), "BYE", reliable=False, now=32.0)[0] is (
            Receipt.NEW)
        table.forget(_key(3, "BYE"))
        assert [table.receive(_key(i, "OPTIONS"), "OPTIONS", reliable=False,
                              now=32.0)[0] for i in range(4, 7)] == [
            Receipt.NEW, Receipt.NEW, Receipt.FULL]


class TestFlood:
    async def test_an_options_flood_leaves_the_invites_their_places(self, front):
        """main: 8 OPTIONS took the 8 places and the INVITE was answered 503."""
        server = await front(max_transactions=8)
        client = Client(server.port)
        for i in range(8):
            client.send(options(f"flood{i}"))
        statuses = sorted(r.split(b"\r\n", 1)[0] for r in await client.replies())
        assert statuses == [b"SIP/2.0 200 OK"] * 4 + [b"SIP/2.0 503 Service Unavailable"] * 4
        client.send(invite("after-flood"))
        replies = [r for r in await client.replies() if not r.startswith(b"SIP/2.0 1")]
        assert [r.split(b"\r\n", 1)[0] for r in replies][:1] == [
            b"SIP/2.0 302 Moved Temporarily"], replies
