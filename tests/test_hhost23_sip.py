"""Hostile input at the SIP redirect front (hhost23).

A Request-URI with two ``@`` before its headers (``sip:8015550123@8015550199@gw``) has no
user part RFC 3261's grammar reads (§25.1: ``@`` is in neither ``user`` nor ``host``).
``number_of`` took what precedes the first ``@`` and the INVITE was decided — ALLOWed and
redirected — as a call to 801-555-0123, while a parser that reads the last ``@`` (as
URL parsers do for userinfo) sees ``8015550123@8015550199``, and the URI names a listed
number too. Such a URI now keeps everything before its last ``@`` as the number, which the
gate refuses (``contains '@'``): the recorded BLOCK ``callguard:number-not-dialable``,
never a decision on one reading of two.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from callguard.errors import NumberError
from callguard.fronts.sip.mapping import number_of
from callguard.numbers.parse import NumberParser
from tests.serve_node import AT, ServeNode, write_lists

UT = "ut-solar-manual"


@pytest.mark.parametrize("uri", [
    "sip:8015550123@8015550199@gw",
    "sips:8015550123@8015550199@gw:5061;user=phone",
    "sip:+18015550123@gw@gw2",
    "sip:8015550123@@gw",
    "sip:8015550123@8015550199@gw?X=1",
    "sip:8015550123;isub=1@8015550199@gw",  # the parameters cut: still refused
    "sip:8015550123;phone-context=+1@gw@gw",
])
def test_two_at_signs_before_the_headers_are_no_number(uri: str) -> None:
    number = number_of(uri)
    assert "@" in number
    with pytest.raises(NumberError):
        NumberParser().parse(number)


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:8015550123@gw", "8015550123"),
    ("sip:8015550123@gw;user=phone", "8015550123"),
    ("sip:8015550123@gw?Subject=a%40b", "8015550123"),
    ("sip:8015550123@gw?Subject=a@b", "8015550123"),  # an '@' in the headers is theirs
    ("sip:gw.example", ""),
    ("tel:+18015550123", "+18015550123"),
])
def test_one_at_sign_is_read_as_before(uri: str, number: str) -> None:
    assert number_of(uri) == number


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hhost23sip") / "node", clock_at=AT)
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def invite(uri: str, number: str = "8015550123") -> bytes:
    branch = uuid.uuid4().hex[:12]
    return (f"INVITE {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:dialer@127.0.0.1>;tag=f{branch}\r\nTo: <sip:{number}@127.0.0.1>\r\n"
            f"Call-ID: {branch}@dialer\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"X-Callguard-Campaign: {UT}\r\nContent-Length: 0\r\n\r\n").encode()


def ask(node: ServeNode, datagram: bytes) -> str:
    """The first final answer to one INVITE over UDP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        sock.sendto(datagram, ("127.0.0.1", node.sip_port))
        while True:
            answer = sock.recv(65536).decode()
            if not answer.startswith("SIP/2.0 100 "):
                return answer


def records(node: ServeNode) -> list[dict[str, object]]:
    log = node.data / "compliance.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r.get("event") == "decision"]


def test_an_invite_to_two_at_signs_is_a_recorded_block(node: ServeNode) -> None:
    before = len(records(node))
    answer = ask(node, invite("sip:8015550123@8015550199@127.0.0.1"))
    assert answer.startswith("SIP/2.0 603 "), answer
    assert 'text="callguard:number-not-dialable"' in answer, answer
    assert "Contact:" not in answer
    time.sleep(0.2)
    decided = records(node)[before:]
    assert [r["rule"] for r in decided] == ["callguard:number-not-dialable"]
    # the front goes on serving
    assert ask(node, invite("sip:8015550123@127.0.0.1")).startswith("SIP/2.0 302 ")
    stderr = node.stderr_path.read_text()
    assert "8015550199" not in stderr
    assert "8015550123" not in stderr
