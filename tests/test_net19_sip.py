"""The SIP front against what real dialers send after a refusal — hnet19.

In-process fronts on the real gate (``tests/test_sip.py``'s ``front``, its gate clock a
weekday inside calling hours), real UDP sockets:

- An INVITE answered 503 (``max_in_flight``: nothing decided) and sent again after its
  Retry-After under a new branch, with the same Call-ID, From tag and CSeq (a dialer's
  retry, or its failover back to this node, RFC 3263 §4.3) was answered 482 Loop
  Detected for as long as the 503's transaction lived (timer H, 32 s; T4 after its
  ACK): §8.2.2.2 merges a request with an *ongoing* transaction so that one request is
  not decided twice — a 503 decided nothing, so there is nothing to decide twice.
- ``max_in_flight`` was the node's alone: one dialer's INVITEs against a slow store (a
  flood, a retry storm) took every place, and every other dialer got 503s.
  ``[sip] max_in_flight_per_source`` (512) keeps places for the others.
- A TCP peer pipelining requests had them all handled between two turns of the loop
  (a reader holding whole messages returns them without waiting): one batch now, as over
  UDP.
- Methods are case-sensitive (RFC 3261 §7.1, §25.1: ``INVITEm = %x49.4E.56.49.54.45``):
  ``invite`` is an extension method this server does not support (405), not an INVITE
  decided and recorded; a CSeq whose method differs in case does not match (§8.1.1.5).
"""

from __future__ import annotations

import asyncio
import itertools
import socket

import pytest

from callguard.errors import ConfigError
from callguard.fronts.sip.server import _READ_BATCH, SipSettings
from tests.test_sip import (
    QUIET_T1,
    Client,
    _Slowed,
    compliance,
    front,
    invite,
    options,
    tcp,
)

__all__ = ["front"]


async def _final_for(client: Client, branch: bytes, within: float = 30) -> bytes:
    """The first final response whose Via names ``branch``."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while loop.time() < until:
        for reply in await client.replies(0.05):
            if branch in reply and not reply.startswith(b"SIP/2.0 100 "):
                return reply
    raise AssertionError(f"no final response for {branch!r}")


class TestRetryAfter503:
    async def test_a_retry_under_a_new_branch_after_a_503_is_decided(self, front):
        """Cap 1, one decision held back: the second INVITE is 503 (nothing decided), its
        ACK sent. Sent again a second later under a new branch (same Call-ID, From tag,
        CSeq): decided (302) and recorded once, not 482 Loop Detected; a copy of the
        retry is 482."""
        server = await front(max_in_flight=1, budget_ms=5000, t1_ms=QUIET_T1)
        server.gate = _Slowed(server.gate, 0.5)
        client = Client(server.port)
        client.send(invite("held"))
        busy = invite("busy")
        client.send(busy)
        refused = await _final_for(client, b"z9hG4bKbusy;")
        assert refused.startswith(b"SIP/2.0 503 "), refused
        client.send(busy.replace(b"INVITE", b"ACK"))  # §17.1.1.3: the 503's ACK
        await _final_for(client, b"z9hG4bKheld;")
        await asyncio.sleep(1.0)  # Retry-After: 1
        client.send(busy.replace(b"z9hG4bKbusy", b"z9hG4bKretry"))
        retried = await _final_for(client, b"z9hG4bKretry;")
        assert retried.startswith(b"SIP/2.0 302 "), retried
        assert len(compliance(server)) == 2
        assert server.stats.counts["merged"] == 0
        # the retry was decided: a copy of it under another branch is merged (482), never
        # a second decision and record
        client.send(busy.replace(b"z9hG4bKbusy", b"z9hG4bKcopy"))
        copied = await _final_for(client, b"z9hG4bKcopy;")
        assert copied.startswith(b"SIP/2.0 482 Loop Detected\r\n"), copied
        assert len(compliance(server)) == 2


class TestMethodCase:
    async def test_a_lower_case_invite_is_405_and_not_decided(self, front):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        client.send(invite("lc").replace(b"INVITE sip:", b"invite sip:").replace(
            b"CSeq: 1 INVITE", b"CSeq: 1 invite"))
        reply = await _final_for(client, b"z9hG4bKlc;")
        assert reply.startswith(b"SIP/2.0 405 Method Not Allowed\r\n"), reply
        assert b"\r\nAllow: INVITE, ACK, CANCEL, OPTIONS\r\n" in reply
        assert compliance(server) == []

    async def test_a_cseq_method_in_another_case_does_not_match(self, front):
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        client.send(invite("cs").replace(b"CSeq: 1 INVITE", b"CSeq: 1 Invite"))
        reply = await _final_for(client, b"z9hG4bKcs;")
        assert reply.startswith(b"SIP/2.0 400 "), reply
        assert compliance(server) == []

    async def test_a_lower_case_ack_is_not_an_ack(self, front):
        """``ack`` ends no transaction: the 302's timer G goes on (it is not absorbed),
        and the request is answered as the unknown method it is."""
        server = await front(t1_ms=QUIET_T1)
        client = Client(server.port)
        client.send(invite("la"))
        assert (await _final_for(client, b"z9hG4bKla;")).startswith(b"SIP/2.0 302 ")
        client.send(invite("la").replace(b"INVITE", b"ack"))
        await client.silence(0.2)
        assert server.stats.counts["ack_absorbed"] == 0
        assert server.stats.counts["method_not_allowed"] == 1


class TestInFlightPerSource:
    async def test_one_source_cannot_take_every_place(self, front):
        """Cap 4 for the node, 2 per source, decisions held back (a slow store): the
        third INVITE of 127.0.0.1 is 503 (nothing decided), while 127.0.0.2's INVITE,
        arriving after it, is still decided. Before, the first source's flood took every
        place the node had and every other dialer got the 503."""
        server = await front(max_in_flight=4, max_in_flight_per_source=2, budget_ms=5000,
                             t1_ms=QUIET_T1, allowed_sources=("127.0.0.0/8",))
        server.gate = _Slowed(server.gate, 0.5)
        flooder = Client(server.port)
        other = Client(server.port)
        other.sock.close()
        other.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other.sock.bind(("127.0.0.2", 0))
        other.sock.setblocking(False)
        for branch in ("f1", "f2", "f3", "f4"):
            flooder.send(invite(branch))
        refused = await _final_for(flooder, b"z9hG4bKf3;")
        assert refused.startswith(b"SIP/2.0 503 "), refused
        assert b"max_in_flight_per_source" in refused
        other.send(invite("o1"))
        decided = await _final_for(other, b"z9hG4bKo1;")
        assert decided.startswith(b"SIP/2.0 302 "), decided
        assert server.stats.counts["refused_source_busy"] == 2
        assert server.stats.counts["refused_busy"] == 0
        loop = asyncio.get_running_loop()
        until = loop.time() + 30
        while len(compliance(server)) < 3 and loop.time() < until:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        assert len(compliance(server)) == 3  # f1, f2, o1: the 503s decided nothing
        assert server._deciding_by == {}  # every place given back
        await flooder.replies(0.05)
        flooder.send(invite("f5"))  # room again for the first source
        assert (await _final_for(flooder, b"z9hG4bKf5;")).startswith(b"SIP/2.0 302 ")

    def test_max_in_flight_per_source_below_one_is_refused(self):
        with pytest.raises(ConfigError, match="max_in_flight_per_source"):
            SipSettings(max_in_flight_per_source=0)


class TestTcpFairness:
    async def test_a_peer_pipelining_requests_does_not_hold_the_loop(self, front):
        """3,000 OPTIONS pipelined on one connection: between two turns of the loop the
        front handles one batch (``_READ_BATCH``, as over UDP), not everything its reader
        holds. Before, a reader holding whole messages returned them without waiting, and
        about 2,000 requests went by between two turns (150 ms: every decision, FastAGI's
        included, waited)."""
        server = await front(t1_ms=QUIET_T1)
        counts = server.stats.counts
        seen: list[int] = []
        done = asyncio.Event()

        async def turns() -> None:
            while not done.is_set():
                seen.append(counts["options_new"])
                await asyncio.sleep(0)

        watcher = asyncio.create_task(turns())
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        blob = b"".join(tcp(options(f"p{i}")).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")
                        for i in range(3000))
        writer.write(blob)
        answered = 0
        try:
            async with asyncio.timeout(60):
                while answered < 3000:
                    answered += (await reader.read(1 << 20)).count(b"SIP/2.0 200 OK\r\n")
        finally:
            done.set()
            await watcher
            writer.close()
        steps = [b - a for a, b in itertools.pairwise(seen)]
        assert counts["options_new"] == 3000
        assert max(steps) <= 2 * _READ_BATCH, max(steps)
