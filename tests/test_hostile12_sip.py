"""Hostile SIP peers against a real `callguard serve` (UDP and TCP on one port).

A request line whose version is not SIP/2.0 (``INVITE sip:… SIP/3.0``, an HTTP request
line sent to the SIP port) asks in a protocol whose rules callguard does not know: it was
decided and answered like a SIP/2.0 INVITE (a recorded ALLOW, a 302). RFC 3261 §7.1: the
version of this specification is "SIP/2.0" (§25.1: the token compares case-insensitively);
§21.5.18: 505 (Version Not Supported) "The server does not support, or refuses to
support, the SIP protocol version that was used in the request". Answered 505, nothing
decided, nothing recorded.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_node import AT, ServeNode, write_lists


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("sip") / "node", clock_at=AT)
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _invite(version: str, call_id: str, transport: str = "UDP", port: int = 5099) -> bytes:
    return (f"INVITE sip:8015550123@gw {version}\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{port};branch=z9hG4bK{call_id};rport\r\n"
            "From: <sip:dialer@x>;tag=1\r\nTo: <sip:8015550123@gw>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n").encode()


def _udp(node: ServeNode, data: bytes) -> bytes:
    """The final answer (past any 100 Trying) to one datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(data, ("127.0.0.1", node.sip_port))
        while True:
            answer = sock.recv(65536)
            if not answer.startswith(b"SIP/2.0 100 "):
                return answer


def _tcp(node: ServeNode, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", node.sip_port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer or answer.startswith(b"SIP/2.0 100 "):
            if answer.startswith(b"SIP/2.0 100 ") and b"\r\n\r\n" in answer:
                answer = answer.partition(b"\r\n\r\n")[2]
                continue
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        return answer


def _decisions(node: ServeNode) -> int:
    path = Path(node.data) / "compliance.jsonl"
    return sum(b'"front":"sip"' in line for line in path.read_bytes().splitlines())


@pytest.mark.parametrize("version", ["SIP/3.0", "HTTP/1.1", "SIP/2.0 junk", "SIP/2.00"])
@pytest.mark.parametrize("over", ["udp", "tcp"])
def test_another_version_is_answered_505_and_nothing_decided(node: ServeNode, version: str,
                                                             over: str) -> None:
    before = _decisions(node)
    call_id = f"v{time.time_ns()}"
    if over == "udp":
        answer = _udp(node, _invite(version, call_id))
    else:
        answer = _tcp(node, _invite(version, call_id, "TCP"))
    assert answer.startswith(b"SIP/2.0 505 Version Not Supported\r\n"), answer
    assert f"Call-ID: {call_id}".encode() in answer  # an answer to that request (§8.2.6)
    time.sleep(0.2)
    assert _decisions(node) == before  # nothing decided, nothing recorded


@pytest.mark.parametrize("version", ["SIP/2.0", "sip/2.0"])
def test_sip_2_0_in_any_case_is_decided(node: ServeNode, version: str) -> None:
    answer = _udp(node, _invite(version, f"ok{time.time_ns()}"))
    assert answer.startswith(b"SIP/2.0 302 "), answer


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 loopback here")
def test_dual_stack_udp_reads_an_ipv4_dialer_as_its_ipv4_address(tmp_path: Path) -> None:
    """``host = "::"``: the UDP socket is dual-stack (Linux's bindv6only=0), and an IPv4
    dialer's datagrams come from ``::ffff:10.1.2.3``. The allowlist (``10.1.2.0/24``) and
    ``campaign_by_source`` compared that IPv6 form with IPv4 networks: every IPv4 dialer
    was refused unanswered (``refused_source``) and waited out its Timer B. stun.py
    already answered such a peer with its IPv4 address."""
    serve = ServeNode(tmp_path / "node", clock_at=AT, extra_sip={
        'host = "127.0.0.1"': 'host = "::"',
        'allowed_sources = ["127.0.0.1/32", "::1/128"]': 'allowed_sources = ["127.0.0.1/32"]',
        "campaign_by_source = {}": 'campaign_by_source = { "127.0.0.0/8" = "ut-solar-manual" }'})
    write_lists(serve.data, [8015550199])
    serve.start()
    try:
        call_id = f"v4{time.time_ns()}"
        invite = _invite("SIP/2.0", call_id).replace(
            b"X-Callguard-Campaign: ut-solar-manual\r\n", b"")  # the source's campaign
        answer = _udp(serve, invite)
        assert answer.startswith(b"SIP/2.0 302 "), answer
        time.sleep(0.2)
        decided = [json.loads(line) for line in (serve.data / "compliance.jsonl")
                   .read_bytes().splitlines() if b'"front":"sip"' in line]
        assert [d["campaign"] for d in decided] == ["ut-solar-manual"]
        _, metrics = serve.http("/metrics")
        assert 'callguard_sip_events_total{event="refused_source"}' not in metrics
    finally:
        serve.stop()
