"""The SIP front against unusual-but-legal and hand-made dialers, over a real
``callguard serve`` (network examiner 21).

A request under a branch already used is told from a retransmission by what it repeats
(``wire.Identity``): its request line, Call-ID and the headers the decision reads. Not its
CSeq: a hand-made dialer that keeps one branch and one Call-ID and counts CSeq up for
each new attempt (RFC 3261 §8.1.1.5: a new request has a new CSeq number; a
retransmission repeats it) had its second INVITE to the same number answered with the
first one's 302 — a second call placed with no decision and no compliance record, never
counted against the number's call-frequency limits — and that 302 even said
``CSeq: 1 INVITE``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from callguard.config import load_settings
from callguard.fronts.sip.server import SipFront
from tests.serve_node import AT, ServeNode, write_lists

LISTED = 8015550199


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hnet21") / "node", clock_at=AT)
    write_lists(serve.data, [LISTED])
    serve.start()
    yield serve
    serve.stop()


def _invite(call_id: str, *, cseq: int = 1, number: str = "8015550123") -> bytes:
    return (f"INVITE sip:{number}@gw SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{call_id};rport\r\n"
            f"From: <sip:dialer@x>;tag=1\r\nTo: <sip:{number}@gw>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nMax-Forwards: 70\r\n"
            "X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n").encode()


def _ask(node: ServeNode, sock: socket.socket, data: bytes) -> bytes:
    """The final answer (past any 100 Trying) on ``sock``."""
    sock.sendto(data, ("127.0.0.1", node.sip_port))
    answer = sock.recv(65536)
    while answer.startswith(b"SIP/2.0 100 "):
        answer = sock.recv(65536)
    return answer


def _decision_ids(node: ServeNode) -> list[str]:
    path = node.data / "compliance.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["decision_id"] for line in path.read_bytes().splitlines()
            if b'"event":"decision"' in line]


def _decision_id(answer: bytes) -> str:
    line = next(line for line in answer.split(b"\r\n")
                if line.startswith(b"X-Callguard-Decision:"))
    return line.partition(b":")[2].strip().decode()


def test_a_new_cseq_under_a_reused_branch_is_not_given_the_first_302(node: ServeNode) -> None:
    """Before: the INVITE with ``CSeq: 2`` got the first INVITE's 302 (a redirect to the
    trunk for a call nothing decided or recorded). Now it is another request: 400, the
    branch already used, no Contact; the first INVITE's true retransmission still gets
    its 302, and one decision is recorded for the one call decided."""
    call_id = f"h21c{time.time_ns()}"
    first = _invite(call_id)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        answer = _ask(node, sock, first)
        assert answer.startswith(b"SIP/2.0 302 "), answer
        redial = _ask(node, sock, _invite(call_id, cseq=2))
        again = _ask(node, sock, first)
    assert not redial.startswith(b"SIP/2.0 302 "), redial
    assert redial.startswith(b"SIP/2.0 400 "), redial
    assert b"branch already used by another request" in redial
    assert b"Contact:" not in redial
    assert b"CSeq: 2 INVITE" in redial
    assert again == answer  # a retransmission is one still
    decided = node.until(lambda: [d for d in _decision_ids(node)
                                  if d == _decision_id(answer)], timeout=5)
    assert len(decided) == 1


class _NoGate:
    async def check(self, request: object, *, budget_s: float | None = None) -> object:
        raise AssertionError("the gate was asked")


def _options(transport: str, branch: str) -> bytes:
    return (f"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;rport;branch=z9hG4bK{branch}\r\n"
            "From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def _top_via(answer: bytes) -> str:
    return next(line for line in answer.decode().split("\r\n") if line.startswith("Via:"))


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 in this Python")
async def test_an_ipv4_dialer_of_a_dual_stack_port_is_told_its_ipv4_address() -> None:
    """On ``host = "::"`` an IPv4 dialer's datagrams come from ``::ffff:127.0.0.1``, and
    its answers' top Via said ``received=::ffff:127.0.0.1`` (and had it added although the
    sent-by was its address): RFC 3581 §4 gives the dialer, in ``received`` and
    ``rport``, the address its request came from — what a client behind a NAT learns its
    public address from — and that address is 127.0.0.1, an IPv4 one. Now it is written
    so, over UDP and TCP."""
    sip = replace(load_settings().sip, host="::", port=0, tcp=True)
    front = SipFront(_NoGate(), sip)  # type: ignore[arg-type]
    try:
        await front.start()
    except OSError as exc:  # pragma: no cover - a host without IPv6 sockets
        pytest.skip(f"no IPv6 socket here: {exc}")
    loop = asyncio.get_running_loop()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.setblocking(False)
            client.sendto(_options("UDP", "h21v4u"), ("127.0.0.1", front.port))
            answer = await asyncio.wait_for(loop.sock_recv(client, 65536), 5)
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port)
        try:
            writer.write(_options("TCP", "h21v4t"))
            streamed = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        finally:
            writer.close()
    finally:
        await front.close()
    for reply in (answer, streamed):
        assert reply.startswith(b"SIP/2.0 200 OK"), reply
        via = _top_via(reply)
        assert "received=127.0.0.1" in via, via
        assert "::ffff:" not in via, via
