"""The transaction table's bounds, left open by hrev135 (hsip30): a place for each kind of
request however small ``max_transactions`` is, and a CANCEL of a live INVITE answered
however full the table is (RFC 3261 §9.2).

The table is tested directly (pure, synthetic clock); the CANCEL once more on a real
front (``tests/test_sip.py``'s ``front``) with real sockets on loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from callguard.errors import ConfigError
from callguard.fronts.sip.server import SipSettings
from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    TimerSettings,
    transaction_key,
)
from tests.test_sip import (
    QUIET_T1,
    Client,
    _SlowRead,
    cancel,
    front,
    invite,
    status_and_tag,
)

__all__ = ["front"]


def _key(name: str, method: str) -> object:
    return transaction_key(branch=f"z9hG4bK{name}", sent_by="10.0.0.1:5060", method=method,
                           call_id=name, cseq=1, from_tag="t")


def _statuses(replies: list[bytes]) -> list[bytes]:
    return [r.split(b"\r\n", 1)[0] for r in replies]


class TestEveryKindHasAPlace:
    """``max_transactions = 1`` left the requests other than INVITE half of 1, 0 places:
    every OPTIONS (a dialer's keep-alive, its health check) was answered 503 (main).
    Giving them one of the one place would let a single OPTIONS lock every INVITE out
    for 64·T1, what the half was made to prevent; so the table is at least 2 — one place
    for each kind — and a smaller one is refused at the start (``config check``)."""

    def test_a_table_of_one_is_refused(self):
        with pytest.raises(ValueError, match="max_transactions"):
            TimerSettings(max_transactions=1)
        with pytest.raises(ConfigError, match="max_transactions"):
            SipSettings(max_transactions=1)

    def test_a_table_of_two_has_a_place_for_each_kind(self):
        table = ServerTransactions(TimerSettings(max_transactions=2))
        assert table.receive(_key("o1", "OPTIONS"), "OPTIONS", reliable=False,
                             now=0.0)[0] is Receipt.NEW
        assert table.receive(_key("o2", "OPTIONS"), "OPTIONS", reliable=False,
                             now=0.0)[0] is Receipt.FULL
        assert table.receive(_key("i1", "INVITE"), "INVITE", reliable=False,
                             now=0.0)[0] is Receipt.NEW

    def test_config_check_names_the_key(self, tmp_path):
        from callguard.config import load_settings

        path = tmp_path / "c.toml"
        path.write_text("[sip]\nmax_transactions = 1\n")
        with pytest.raises(ConfigError, match="max_transactions"):
            load_settings(path, data_dir=tmp_path)


class TestACancelPastAFullTable:
    """§9.2: a CANCEL matching an INVITE transaction is answered 200 and the INVITE
    487. With the whole table full the CANCEL was refused 503 (main), the call went on
    being decided and was answered 302 — a call the dialer had withdrawn. It needs no new
    INVITE place: it is admitted past the bound, one at most per kept INVITE (its key is
    the INVITE's), so the table holds twice ``max_transactions`` at worst."""

    def test_a_cancel_of_a_kept_invite_is_admitted(self):
        table = ServerTransactions(TimerSettings(max_transactions=2))
        for name in ("c1", "c2"):
            assert table.receive(_key(name, "INVITE"), "INVITE", reliable=False,
                                 now=0.0)[0] is Receipt.NEW
        assert table.receive(_key("c3", "INVITE"), "INVITE", reliable=False,
                             now=0.0)[0] is Receipt.FULL
        assert table.receive(_key("c1", "CANCEL"), "CANCEL", reliable=False,
                             now=0.0)[0] is Receipt.NEW
        # a CANCEL of nothing is still refused, and the CANCEL's copy is a retransmission
        assert table.receive(_key("none", "CANCEL"), "CANCEL", reliable=False,
                             now=0.0)[0] is Receipt.FULL
        assert table.receive(_key("c1", "CANCEL"), "CANCEL", reliable=False,
                             now=0.0)[0] is Receipt.PENDING
        assert len(table) == 3

    def test_of_an_acknowledged_invite_too(self):
        table = ServerTransactions(TimerSettings(max_transactions=2))
        for name in ("a1", "a2"):
            table.receive(_key(name, "INVITE"), "INVITE", reliable=False, now=0.0)
            table.respond(_key(name, "INVITE"), b"SIP/2.0 603 x\r\n\r\n", None, now=0.0)
        table.receive(_key("a1", "ACK"), "ACK", reliable=False, now=0.1)
        assert table.receive(_key("a1", "CANCEL"), "CANCEL", reliable=False,
                             now=0.2)[0] is Receipt.NEW


class TestCancelWithTheTableFull:
    async def test_the_cancel_is_200_and_the_invite_487(self, front):
        """Two INVITEs being decided fill a table of 2; the CANCEL of one was a 503
        (main), and the withdrawn call was then answered 302."""
        server = await front(max_transactions=2, budget_ms=4000, t1_ms=QUIET_T1)
        server.gate._records = _SlowRead(server.gate._records, 2.0)
        client = Client(server.port)
        loop = asyncio.get_running_loop()
        client.send(invite("cf1"))
        client.send(invite("cf2"))
        tryings = []
        while len(tryings) < 2:
            tryings.append(await asyncio.wait_for(loop.sock_recv(client.sock, 65536), 30))
        assert _statuses(tryings) == [b"SIP/2.0 100 Trying"] * 2
        assert len(server.transactions) == 2
        client.send(cancel("cf1"))
        replies: list[bytes] = []
        started = loop.time()
        while len(replies) < 2 and loop.time() - started < 10:
            replies += await client.replies(0.05)
        got = sorted(status_and_tag(r)[:2] for r in replies[:2])
        assert got == [("SIP/2.0 200 OK", "CANCEL"),
                       ("SIP/2.0 487 Request Terminated", "INVITE")], replies
        assert server.stats.counts["cancelled"] == 1
