"""Hostile SIP peers against a real `callguard serve` (hhos15).

A To (or From) whose ``tag`` parameter has no value — ``To: <sip:…>;tag=`` — broke
RFC 3261's grammar (§25.1: ``tag-param = "tag" EQUAL token``; a token is one character
or more) and was answered ``481 Call/Transaction Does Not Exist``, the answer for a
request inside a dialog (§12.2.2): a dialer whose stack writes an empty tag was told its
"dialog" was gone, and logged a routing fault instead of its own malformed request. The
request is not understood: ``400 Bad Request`` (§21.4.1) with a Warning naming the
header, nothing decided, recorded or counted — as for every other request the front
cannot read as one question.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_node import ServeNode, write_lists


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("sip15") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _invite(call_id: str, *, to_params: str = "", from_params: str = ";tag=1",
            transport: str = "UDP") -> bytes:
    return ("INVITE sip:8015550123@gw SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK{call_id};rport\r\n"
            f"From: <sip:dialer@x>{from_params}\r\nTo: <sip:8015550123@gw>{to_params}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            "X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n").encode()


def _answer(node: ServeNode, data: bytes, over: str) -> bytes:
    """The final answer (past any 100 Trying) to one request."""
    if over == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(data, ("127.0.0.1", node.sip_port))
            while True:
                answer = sock.recv(65536)
                if not answer.startswith(b"SIP/2.0 100 "):
                    return answer
    with socket.create_connection(("127.0.0.1", node.sip_port), timeout=5) as sock:
        sock.sendall(data)
        answer = b""
        while True:
            head, sep, rest = answer.partition(b"\r\n\r\n")
            if sep and head.startswith(b"SIP/2.0 100 "):
                answer = rest
                continue
            if sep:
                return answer
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk


def _decisions(node: ServeNode) -> int:
    path = Path(node.data) / "compliance.jsonl"
    return sum(b'"front":"sip"' in line for line in path.read_bytes().splitlines())


@pytest.mark.parametrize(("to_params", "from_params", "named"), [
    (";tag=", ";tag=1", b"To"), (";tag= ", ";tag=1", b"To"), (";TAG=", ";tag=1", b"To"),
    (";tag", ";tag=1", b"To"), ("", ";tag=", b"From")])
@pytest.mark.parametrize("over", ["udp", "tcp"])
def test_an_empty_tag_is_a_400_naming_the_header_not_a_481(
        node: ServeNode, to_params: str, from_params: str, named: bytes, over: str) -> None:
    before = _decisions(node)
    call_id = f"e{time.time_ns()}"
    answer = _answer(node, _invite(call_id, to_params=to_params, from_params=from_params,
                                   transport=over.upper()), over)
    assert answer.startswith(b"SIP/2.0 400 "), answer
    assert b'Warning: 399 callguard "' + named + b" has a tag with no value" in answer
    assert call_id.encode() in answer  # the dialer can match it
    time.sleep(0.3)
    assert _decisions(node) == before  # nothing decided or recorded


@pytest.mark.parametrize("over", ["udp", "tcp"])
def test_a_real_to_tag_is_still_a_481_and_no_tag_is_decided(node: ServeNode,
                                                            over: str) -> None:
    """The controls: a To tag with a value is a dialog (481); none is a new call."""
    t = over.upper()
    assert _answer(node, _invite(f"d{time.time_ns()}", to_params=";tag=abc", transport=t),
                   over).startswith(b"SIP/2.0 481 ")
    before = _decisions(node)
    decided = _answer(node, _invite(f"n{time.time_ns()}", transport=t), over)
    assert decided.startswith((b"SIP/2.0 302 ", b"SIP/2.0 603 ")), decided  # hour of now
    assert _decisions(node) == before + 1


@pytest.mark.parametrize("number", ["-1", "+1", "1_0", "\u0661", "2147483648",
                                    "99999999999999999999999"])
@pytest.mark.parametrize("over", ["udp", "tcp"])
def test_a_cseq_number_outside_the_grammar_is_a_400(node: ServeNode, number: str,
                                                    over: str) -> None:
    """§25.1: ``CSeq = "CSeq" HCOLON 1*DIGIT LWS Method``; §8.1.1.5: below 2**31. Read
    with Python's ``int``, ``-1``, ``+1``, ``1_0`` and an Arabic-Indic one were decided."""
    before = _decisions(node)
    call_id = f"q{time.time_ns()}"
    data = _invite(call_id, transport=over.upper()).replace(
        b"CSeq: 1 INVITE", f"CSeq: {number} INVITE".encode())
    answer = _answer(node, data, over)
    assert answer.startswith(b"SIP/2.0 400 "), answer
    assert b"CSeq number is not 1*DIGIT below 2**31" in answer
    time.sleep(0.3)
    assert _decisions(node) == before


def test_the_largest_cseq_is_decided(node: ServeNode) -> None:
    """The control: 2**31 - 1 is a CSeq (a leading zero too)."""
    before = _decisions(node)
    for number in ("2147483647", "007"):
        data = _invite(f"m{time.time_ns()}").replace(b"CSeq: 1 INVITE",
                                                     f"CSeq: {number} INVITE".encode())
        assert _answer(node, data, "udp").startswith((b"SIP/2.0 302 ", b"SIP/2.0 603 "))
    assert _decisions(node) == before + 2


def test_a_body_is_never_framed_as_the_next_request_over_tcp(node: ServeNode) -> None:
    """A head whose lines end in LF alone (``wire.parse`` reads them, as aiosipua does)
    and whose Content-Length declares a body: the TCP framing split lines at CRLF only,
    saw no Content-Length, and read the body as the next request — here an INVITE for
    another number, decided and recorded (a compliance record and a call-frequency count
    for bytes that were a body). The framing and the parse now agree: one request, one
    answer, one decision."""
    inner = _invite(f"in{time.time_ns()}", transport="TCP").replace(
        b"sip:8015550123@gw SIP", b"sip:8015550199@gw SIP")
    outer = _invite(f"out{time.time_ns()}", transport="TCP").replace(
        b"Content-Length: 0", f"Content-Length: {len(inner)}".encode())
    head = outer.partition(b"\r\n\r\n")[0]
    before = _decisions(node)
    with socket.create_connection(("127.0.0.1", node.sip_port), timeout=2) as sock:
        sock.sendall(head.replace(b"\r\n", b"\n") + b"\r\n\r\n" + inner)
        answers = b""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answers += chunk
    finals = [line for line in answers.split(b"\r\n")
              if line.startswith(b"SIP/2.0 ") and not line.startswith(b"SIP/2.0 100 ")]
    assert len(finals) == 1, answers
    assert _decisions(node) == before + 1
