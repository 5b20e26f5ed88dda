"""Review of the withheld-caller-ID reading (hrev31).

``withheld_presentation`` read only the first Privacy and the first Remote-Party-ID line,
a Remote-Party-ID's parameters only after a ``>``, and an anonymous From's user as sent:
an INVITE with ``Privacy: none`` then ``Privacy: id`` (two lines; RFC 3323 writes one, a
B2BUA that adds its own writes two), a second Remote-Party-ID with ``privacy=full``, a
Remote-Party-ID without angle brackets, or ``From: <sip:%61nonymous@…>`` (§19.1.4: user
parts compare unescaped) was ALLOWed — a 302 whose redirected INVITE keeps those headers
(RFC 3261 §8.1.3.4) and reaches the trunk with its caller ID withheld (47 CFR
64.1601(e); 64.1604(c): blocking one's own caller ID under 64.1601(b) "does not relieve"
a telemarketer of it). Now each is BLOCKed, said in fixed words.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from callguard.fronts.sip.mapping import withheld_presentation
from tests.serve_node import ServeNode, write_lists
from tests.test_sip_withheld_caller_id import _ask, _caller_id_outcome, _headers

RPID = "Remote-Party-ID: <sip:+18015550100@x>;party=calling;privacy="


@pytest.mark.parametrize(("extra", "sender", "said"), [
    ("Privacy: none\r\nPrivacy: id\r\n", None, "Privacy: id"),
    ("Privacy: session\r\nPrivacy: header\r\n", None, "Privacy: header"),
    (f"{RPID}off\r\n{RPID}full\r\n", None, "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: <sip:+18015550100@x>;privacy=off, "
     "<sip:+18015550100@y>;privacy=full\r\n", None, "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=full\r\n", None,
     "Remote-Party-ID privacy=full"),
    ("Remote-Party-ID: \"Doe, John\" <sip:+18015550100@x>;privacy=uri\r\n", None,
     "Remote-Party-ID privacy=uri"),
    ("", "<sip:%61nonymous@pbx.example>;tag=1", "From: anonymous"),
    ("", "<sip:bob@%61nonymous.invalid>;tag=1", "From: anonymous"),
    ("", '"<a:b>" <sip:anonymous@pbx.example>;tag=1', "From: anonymous"),
])
def test_every_line_and_form_that_withholds_the_caller_id_is_read(extra, sender, said):
    headers = _headers(extra) if sender is None else _headers(extra, sender)
    assert withheld_presentation(headers) == said


@pytest.mark.parametrize(("extra", "sender"), [
    ("Privacy: none\r\nPrivacy: session\r\n", "<sip:dialer@x>;tag=1"),
    (f"{RPID}off\r\n{RPID}off\r\n", "<sip:dialer@x>;tag=1"),
    ("Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=off\r\n",
     "<sip:dialer@x>;tag=1"),
    ("", "<sip:anonymous.bob@x>;tag=1"),
    ("", '"Anonymous" <sip:+18015550100@pbx.example>;tag=1'),  # a name, the number shown
])
def test_a_presented_caller_id_is_still_not_withheld(extra, sender):
    assert withheld_presentation(_headers(extra, sender)) is None


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hrev31") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


@pytest.mark.parametrize("extra", [
    "Privacy: none\r\nPrivacy: id\r\n",
    f"{RPID}off\r\n{RPID}full\r\n",
    "Remote-Party-ID: sip:+18015550100@x;party=calling;privacy=full\r\n",
])
def test_over_a_real_socket_a_second_line_withholding_it_is_a_603(node, extra):
    record = _ask(node, f"r{time.time_ns()}", extra)
    assert record["answer"].startswith("SIP/2.0 603 "), record["answer"]
    outcome = _caller_id_outcome(record)
    assert isinstance(outcome, dict)
    assert outcome["status"] == "block"
    assert "withheld (" in outcome["reason"]
    assert "8015550100" not in str(record)


def _udp(node: ServeNode, sock: socket.socket, data: bytes) -> bytes:
    """The final answer (past any 100 Trying) on ``sock``: a retransmission's answer goes
    where the first copy came from (§18.2.2)."""
    sock.sendto(data, ("127.0.0.1", node.sip_port))
    answer = sock.recv(65536)
    while answer.startswith(b"SIP/2.0 100 "):
        answer = sock.recv(65536)
    return answer


@pytest.mark.parametrize("added", [
    b"Privacy: id\r\n", b"Remote-Party-ID: <sip:anonymous@x>;privacy=full\r\n"])
def test_a_reused_branch_that_withholds_the_caller_id_is_not_given_the_first_302(
        node, added):
    """The transaction table gives a retransmission the first answer, and tells another
    request under the same branch apart by what the decision reads (``wire.Identity``):
    the campaign, mode and location headers, not what withholds the caller ID. The same
    INVITE with ``Privacy: id`` added under the first's branch was given its 302 — the
    call placed with its caller ID blocked, and no record of this request. Now it is
    another request (400, the branch already used); the byte-identical copy still gets
    the 302."""
    call_id = f"b{time.time_ns()}"
    first = ("INVITE sip:8015550123@gw SIP/2.0\r\n"
             f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{call_id};rport\r\n"
             f"From: <sip:dialer@x>;tag=1\r\nTo: <sip:8015550123@gw>\r\n"
             f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
             "X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        answer = _udp(node, sock, first)
        assert answer.startswith((b"SIP/2.0 302 ", b"SIP/2.0 603 ")), answer
        assert _udp(node, sock, first) == answer  # a retransmission: the same answer
        other = first.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\n" + added)
        reply = _udp(node, sock, other)
    assert not reply.startswith(b"SIP/2.0 302 "), reply
    assert reply.startswith(b"SIP/2.0 400 "), reply
    assert b"branch already used by another request" in reply
