"""Review of hsip24's SIP front change (hrev116): the request line, Max-Forwards and the
Request-URI's user part, against what real dialers send.

1. ``;ext=`` (RFC 3966 §5.2: a station behind a PBX, "functionally roughly equivalent to
   ISDN subaddresses") is read as the line's own number — the number a do-not-call
   registration names, as ``dnc import`` reads ``x12`` — but only in its own grammar,
   RFC 3966 §3 ``extension = ";ext=" 1*phonedigit`` (digits and the visual separators
   ``-``, ``.``, ``(``, ``)``). hsip24 held its value to the generic ``paramchar``, so
   ``;ext=pp8015550199`` (RFC 2806's pause characters: ``;postd=`` written as an
   extension, a second number dialled through the first) was redirected as a call to
   801-555-0123. Now it leaves the user part whole: the recorded BLOCK
   ``callguard:number-not-dialable``, as ``;postd=`` is.
2. Guards for what real dialers send, which must stay accepted: Asterisk chan_pjsip with
   ``user_eq_phone`` (``sip:+1…@gw;user=phone``), RFC 4694 ``;npdi;rn=``, visual
   separators in a global number (RFC 3966 §5.1.1), ``sips:``/``tel:`` Request-URIs, a
   method of any ``token`` character (§25.1), a missing Max-Forwards (§16.3 step 3: "If
   the request does not contain a Max-Forwards header field, this check is passed").
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from callguard.errors import NumberError
from callguard.fronts.sip.mapping import number_of
from callguard.fronts.sip.wire import max_forwards_ok, request_line_ok
from callguard.numbers.parse import NumberParser
from tests.serve_node import AT, ServeNode, write_lists
from tests.sip_front_client import ask, invite, no_digits_logged, records


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hrev116") / "node", clock_at=AT)
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


# --- 1. ;ext= in its own grammar ------------------------------------------------------------

EXT_REFUSED = [
    "sip:8015550123;ext=pp8015550199@gw",  # RFC 2806 pauses: a post-dial string
    "sip:+18015550123;ext=w8015550199@gw;user=phone",  # wait for dial tone, then dial
    "sip:8015550123;EXT=p1@gw",
    "sip:8015550123;%65xt=p1@gw",  # its name escaped: the same name (§19.1.4)
    "sip:8015550123;ext=%70%70801@gw",  # its value escaped: still 'pp801'
    "sip:8015550123;ext=12%2301@gw",  # '#': a DTMF key, no phonedigit
    "sip:8015550123;ext=*72@gw",
    "sip:8015550123;ext=1a@gw",
    "sip:8015550123;ext@gw",  # 1*phonedigit: a value is required
    "tel:+18015550123;ext=p1",
]


@pytest.mark.parametrize("uri", EXT_REFUSED)
def test_an_extension_outside_its_grammar_is_no_number(uri: str) -> None:
    number = number_of(uri)
    assert number.lstrip("+") not in ("8015550123", "18015550123"), number
    with pytest.raises(NumberError):
        NumberParser().parse(number)


@pytest.mark.parametrize("uri", [
    "sip:8015550123;ext=12@gw",
    "sip:8015550123;ext=1-2@gw",
    "sip:8015550123;ext=(12).3@gw",
    "sip:8015550123;ext=%312@gw",  # an escaped digit is that digit (§19.1.4)
    "sip:+18015550123;ext=12@gw;user=phone",
    "tel:+1-801-555-0123;ext=5",
])
def test_an_extension_in_its_grammar_is_its_lines_number(uri: str) -> None:
    assert NumberParser().parse(number_of(uri)).e164 == "+18015550123"


def test_an_extension_outside_its_grammar_is_a_recorded_block(node: ServeNode) -> None:
    before = len(records(node))
    answer = ask(node, invite("sip:8015550123;ext=pp8015550199@127.0.0.1"))
    assert answer.startswith("SIP/2.0 603 "), answer
    assert 'text="callguard:number-not-dialable"' in answer, answer
    assert "Contact:" not in answer
    node.until(lambda: len(records(node)) > before)
    assert [r["rule"] for r in records(node)[before:]] == ["callguard:number-not-dialable"]
    no_digits_logged(node)


# --- 2. what real dialers send stays accepted -------------------------------------------------

@pytest.mark.parametrize("uri", [
    "sip:+18015550123@127.0.0.1;user=phone",  # chan_pjsip, user_eq_phone=yes
    "sip:+18015550123;npdi;rn=+18015550000@127.0.0.1;user=phone",  # RFC 4694
    "sip:+1-801-555-0123@127.0.0.1;user=phone",  # RFC 3966 §5.1.1 visual separators
    "sip:+1(801)555.0123@127.0.0.1;user=phone",
    "sip:+18015550123;ext=12@127.0.0.1;user=phone",
    "tel:+1-801-555-0123",
    "sips:+18015550123@127.0.0.1",
])
def test_what_dialers_send_is_redirected(node: ServeNode, uri: str) -> None:
    answer = ask(node, invite(uri, extra="Max-Forwards: 70\r\n"))
    assert answer.startswith("SIP/2.0 302 "), answer
    assert "<sip:+18015550123@" in answer, answer


@pytest.mark.parametrize("uri", [
    "sip:8015550123;Phone-Context=+1;phone-context=+44@gw;user=phone",
    "sip:8015550123;PHONE-CONTEXT=+44;phone-context=+1@gw",
])
def test_a_duplicate_parameter_in_another_case_is_still_a_duplicate(uri: str) -> None:
    with pytest.raises(NumberError):
        NumberParser().parse(number_of(uri))


@pytest.mark.parametrize("line", [
    "INVITE sip:+18015550123@gw;user=phone SIP/2.0",
    "INVITE sips:+18015550123@gw SIP/2.0",
    "INVITE tel:+1-801-555-0123 SIP/2.0",
    "X.!%*_+`'~-1 sip:a@b SIP/2.0",  # every token character (§25.1)
    # RFC 4475 §3.1.1.4 (intmeth), a valid message: an unusual method and Request-URI
    "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$"
    "/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
    # RFC 4475 §3.1.1.3 (esc01)
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0",
])
def test_a_request_line_dialers_write_is_read(line: str) -> None:
    assert request_line_ok(f"{line}\r\nVia: x\r\n".encode())


def test_a_missing_max_forwards_is_answered() -> None:
    # §8.1.1.6 binds the UAC; §16.3 step 3 passes a request without one even at a proxy
    assert max_forwards_ok(None)
    assert max_forwards_ok([])


def test_a_request_without_max_forwards_is_redirected(node: ServeNode) -> None:
    answer = ask(node, invite("sip:8015550123@127.0.0.1"))
    assert "Max-Forwards" not in invite("sip:8015550123@127.0.0.1").decode()
    assert answer.startswith("SIP/2.0 302 "), answer


@pytest.mark.parametrize("line", ["INVITE", "INVITE sip:8015550123@127.0.0.1", "", " ",
                                  "INVITE  SIP/2.0"])
def test_a_start_line_too_garbled_to_answer_is_dropped(node: ServeNode, line: str) -> None:
    """No Request-URI and version to read: dropped unanswered (counted), the front
    goes on serving, nothing recorded."""
    before = len(records(node))
    branch = uuid.uuid4().hex[:12]
    data = (f"{line}\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:d@127.0.0.1>;tag=f{branch}\r\nTo: <sip:c@127.0.0.1>\r\n"
            f"Call-ID: {branch}@d\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        sock.sendto(data.encode(), ("127.0.0.1", node.sip_port))
        with pytest.raises(TimeoutError):
            sock.recv(65536)
    assert ask(node, invite("sip:8015550123@127.0.0.1")).startswith("SIP/2.0 302 ")
    node.until(lambda: len(records(node)) > before)
    assert len(records(node)) == before + 1  # the 302's decision alone
