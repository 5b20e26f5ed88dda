"""What real SIP user agents do with the front's answers (hsip22).

Read in their source: pjsip's ``handle_uac_call_rejection`` (sip_inv.c) adds a 3xx's
Contacts to its target set and tries the next target on a 4xx or 5xx, never after a 6xx
(``pjsip_target_set_get_next``, sip_util.c); OpenSIPS's ``t_should_relay_response`` lets no
new branch follow a 6xx (``T_NO_NEW_BRANCHES_FLAG``); Kamailio's cancels the other pending
branches on a 6xx but clears ``T_6xx`` before its failure route, which may add branches;
Asterisk's ``session_inv_on_redirected`` (res_pjsip_session.c) forwards to the Contact's user
part (``redirect_method = user``) or URI (``uri_core``), and app_dial's ``do_forward``
dials it. So the safety of the front rests on three things held here over real sockets:
only a recorded ALLOW names a destination (the 302's Contact, its decision id that ALLOW's
record, its number the record's); every answer that decided nothing is a 4xx or 5xx with no
Contact and no decision id; the hop-by-hop ACK of a 302 or 603 (RFC 3261 §17.1.1.3) ends
the transaction however it comes — over UDP (timer G stops) or on a new TCP connection. And a
``block_status`` other than 603 is warned of at start: a 403 is not global (§16.7, §21.6).
"""

from __future__ import annotations

import asyncio
import re

import structlog

from tests.test_sip import (
    ALLOWED,
    LISTED,
    QUIET_T1,
    Client,
    _Slowed,
    compliance,
    front,
    invite,
)

__all__ = ["front"]  # the fixture


def _tcp(data: bytes) -> bytes:
    return data.replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")


def _ack(request: bytes, number: str, tag: bytes) -> bytes:
    """The ACK of a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, top Via
    (same branch), Call-ID, From and CSeq number; the response's To tag."""
    to = f"To: <sip:{number}@127.0.0.1>".encode()
    return (request.replace(b"INVITE sip:", b"ACK sip:", 1)
            .replace(b"CSeq: 1 INVITE", b"CSeq: 1 ACK").replace(to, to + b";tag=" + tag))


def _fields(reply: bytes) -> dict[str, str]:
    lines = reply.decode().split("\r\n")
    return {k: v for k, _, v in (line.partition(": ") for line in lines[1:] if ": " in line)}


class TestAck:
    async def test_an_ack_on_a_new_tcp_connection_ends_the_transaction(self, front):
        """§17.1.1.3: the ACK of a 302 or 603 is hop-by-hop, on the INVITE's branch — over
        TCP a dialer may send it on a new connection (its first closed, or one per
        request). It is matched by the top Via's branch and sent-by, not the connection:
        absorbed, never a stray ACK, never answered."""
        server = await front(t1_ms=QUIET_T1)
        for number, status in ((ALLOWED, b"302"), (LISTED, b"603")):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            request = _tcp(invite(f"newconn{number}", number=number))
            writer.write(request)
            await writer.drain()
            reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert reply.startswith(b"SIP/2.0 " + status), reply
            tag = re.search(rb"\r\nTo: [^\r]*;tag=([^;\r]+)", reply)
            assert tag is not None, reply
            writer.close()
            await writer.wait_closed()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(_ack(request, number, tag.group(1)))
            await writer.drain()
            assert await _nothing(reader), "an ACK is never answered"
            writer.close()
        assert server.stats.counts["ack_absorbed"] == 2
        assert server.stats.counts["ack_stray-ack"] == 0
        assert [r["verdict"] for r in compliance(server)] == ["ALLOW", "BLOCK"]

    async def test_the_ack_of_a_603_stops_timer_g(self, front):
        """Over UDP the 603 is sent again at T1, 2·T1, … until its ACK (§17.2.1): after the
        ACK nothing more comes, and a retransmitted INVITE is absorbed (timer I)."""
        server = await front(t1_ms=100)
        client = Client(server.port)
        request = invite("g603", number=LISTED)
        client.send(request)
        [reply] = await client.replies(0.05)
        assert reply.startswith(b"SIP/2.0 603 Decline"), reply
        tag = re.search(rb"\r\nTo: [^\r]*;tag=([^;\r]+)", reply)
        assert tag is not None
        client.send(_ack(request, LISTED, tag.group(1)))
        for _ in range(500):  # until the ACK is read (a bound, never a timing)
            if server.stats.counts["ack_absorbed"]:
                break
            await asyncio.sleep(0.01)
        copies_before = server.stats.counts["retransmitted"]
        client._waiting()  # a copy that crossed the ACK
        client.send(request)  # a late copy of the INVITE
        assert await client.silence(0.8) == []  # T1, 2·T1, 4·T1 would have sent three
        assert server.stats.counts["retransmitted"] == copies_before
        assert server.stats.counts["ack_absorbed"] == 1
        assert len(compliance(server)) == 1


async def _nothing(reader: asyncio.StreamReader, wait: float = 0.3) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(65536), wait)
    except TimeoutError:
        return True
    return data == b""


class TestWhatEachAnswerSays:
    async def test_only_a_recorded_allow_names_a_destination(self, front):
        """Every kind of answer an INVITE can get, over UDP: a Contact only in a 302 whose
        X-Callguard-Decision is an ALLOW's record for the number the Contact dials; a
        BLOCK a 603 naming its record; what decided nothing (busy, a bug, a branch reused,
        a To tag) a 4xx or 5xx with no Contact and no decision id — nothing a dialer
        could follow, and nothing a report would count as a decision."""
        server = await front(t1_ms=10_000, max_in_flight=1, budget_ms=2000)  # no timer G copy
        client = Client(server.port)
        answers: dict[str, bytes] = {}

        async def ask(name: str, request: bytes) -> None:
            client.send(request)
            replies = [r for r in await client.replies(0.2) if not r.startswith(b"SIP/2.0 100")]
            assert len(replies) == 1, (name, replies)
            answers[name] = replies[0]

        await ask("allow", invite("a-allow"))
        await ask("listed", invite("a-listed", number=LISTED))
        await ask("garbage", invite("a-garbage", number="12"))
        await ask("reused", invite("a-allow", number=LISTED))  # the first's branch, another number
        await ask("dialog", invite("a-dialog").replace(
            b"To: <sip:8015550123@127.0.0.1>", b"To: <sip:8015550123@127.0.0.1>;tag=x"))
        real = server.gate
        server.gate = _Slowed(real, 0.6)  # one decision holds the only place
        client.send(invite("a-slow"))
        await asyncio.sleep(0.05)
        await ask("busy", invite("a-busy"))
        await asyncio.sleep(0.8)
        client._waiting()  # the slow one's 302

        async def broken(request, *, budget_s=None):
            raise RuntimeError("simulated bug")

        server.gate = type("Broken", (), {"check": staticmethod(broken)})()
        await ask("bug", invite("a-bug"))
        server.gate = real

        records = {r["decision_id"]: r for r in compliance(server)}
        statuses = {}
        for name, reply in answers.items():
            status = int(reply.split(b" ", 2)[1])
            statuses[name] = status
            fields = _fields(reply)
            decision = fields.get("X-Callguard-Decision")
            if status == 302:
                record = records[decision]
                assert record["verdict"] == "ALLOW", name
                # the record of this very INVITE (its Call-ID), for the number dialled
                assert record["reference"] == fields["Call-ID"], name
                contact = re.fullmatch(r"<sip:(\+1\d{10})@trunk\.example\.net>",
                                       fields["Contact"])
                assert contact is not None, fields["Contact"]
                assert contact.group(1)[-4:] == record["number_last4"], name
            else:
                assert "Contact" not in fields, (name, reply)
            if decision is not None:
                assert records[decision]["reference"] == fields["Call-ID"], name
                assert records[decision]["verdict"] == ("ALLOW" if status == 302 else "BLOCK")
                assert status in (302, 603), (name, status)
            else:
                assert 400 <= status < 600, (name, status)  # never a 6xx without a record
        assert statuses == {"allow": 302, "listed": 603, "garbage": 603, "reused": 400,
                            "dialog": 481, "busy": 503, "bug": 500}


async def test_a_block_status_that_is_not_global_is_warned_at_start(front):
    """RFC 3261 §16.7 and §21.6: a 6xx ends every branch; a 403 ends one. pjsip tries its
    next target after a 4xx (``handle_uac_call_rejection``), OpenSIPS lets new branches
    follow anything but a 6xx, and a dialer's failover route may take a 403-BLOCKed call
    to the next gateway. ``block_status = 403`` stays allowed (some dialers count a 603
    as "callee declined"), but the start says so; 603 starts quietly."""
    with structlog.testing.capture_logs() as logs:
        await front(block_status=403)
        await front()
    warned = [line for line in logs if line["event"] == "sip_block_status_not_global"]
    assert [line["block_status"] for line in warned] == [403]
