"""A dialled number in an odd form over a real ``callguard serve``'s SIP and HTTP fronts
(network examiner 20).

``tel:18015550199;phone-context=+1`` is ``+1`` then ``18015550199``: eleven digits after
+1. libphonenumber reads ``+118015550199`` as +1 801 555 0199 (it drops the second 1 as
a national prefix), and the parser took that as an international number, which carries
no national value: no list held it. A number on the national do-not-call list was
ALLOWed (47 CFR 64.1200(c)(2)) and redirected to the trunk as ``+18015550199`` — over
SIP (a ``user=phone`` SIP URI too), and over HTTP and FastAGI as ``+1 1 801 555 0199``.
Now refused: BLOCK ``callguard:number-not-dialable``, with the reason, recorded.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, ServeNode, write_lists

LISTED = "8015550199"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("net20") / "node", clock_at=AT)
    write_lists(serve.data, [int(LISTED)])
    serve.start()
    yield serve
    serve.stop()


def _invite(uri: str, call_id: str) -> bytes:
    return (f"INVITE {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{call_id};rport\r\n"
            f"From: <sip:dialer@x>;tag=1\r\nTo: <{uri}>\r\n"
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


def _records(node: ServeNode) -> list[dict[str, object]]:
    path = node.data / "compliance.jsonl"
    return [json.loads(line) for line in path.read_bytes().splitlines()
            if b'"event":"decision"' in line]


@pytest.mark.parametrize("uri", [
    "tel:18015550199;phone-context=+1",
    "tel:1-801-555-0199;phone-context=+1",
    "sip:+118015550199@gw;user=phone",
    "sip:+1%2018015550199@gw",
])
def test_an_eleven_digit_national_number_after_plus_one_is_blocked(
        node: ServeNode, uri: str) -> None:
    """Before: 302 to ``<sip:+18015550199@trunk.invalid>``, a recorded ALLOW of a number
    on the national list. Now 603 ``callguard:number-not-dialable``, a recorded BLOCK."""
    before = len(_records(node))
    answer = _udp(node, _invite(uri, f"n20p{time.time_ns()}"))
    assert answer.startswith(b"SIP/2.0 603 "), answer
    assert b'text="callguard:number-not-dialable"' in answer
    assert b"Contact:" not in answer
    reason = next(line for line in answer.split(b"\r\n")
                  if line.startswith(b"X-Callguard-Reason:"))
    assert b"0199" in reason
    assert LISTED.encode() not in reason
    node.until(lambda: len(_records(node)) > before, timeout=5)
    assert [r["verdict"] for r in _records(node)[before:]] == ["BLOCK"]


@pytest.mark.parametrize("number", ["+1 1 801 555 0199", "+118015550199", "+1-1-801-555-0199"])
def test_http_check_blocks_the_same_number(node: ServeNode, number: str) -> None:
    status, body = node.json("/v1/check", {"number": number, "campaign": "ut-solar-manual",
                                           "at": AT})
    assert status == 200, body
    assert body["verdict"] == "BLOCK", body
    assert body["rule"] == "callguard:number-not-dialable"
    assert "0199" in body["reason"]
    assert LISTED not in body["reason"]


def test_no_number_in_the_log(node: ServeNode) -> None:
    """Every answer above named the number only redacted, and so does the log."""
    assert "5550199" not in node.stderr()
