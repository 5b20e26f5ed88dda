"""The SIP front's hand-written wire code against aiosipua's, octet for octet.

The front writes responses and stamps the top Via without aiosipua's message objects
(they cost a third of a redirect); these tests hold the fast code to the octets the
library path gives, for the requests SIPp sends and for generated odd ones.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import socket
from dataclasses import replace

import pytest
import structlog.testing
from aiosipua import SipMessage, SipRequest, SipResponse
from aiosipua.headers import parse_via, stringify_via
from hypothesis import given
from hypothesis import strategies as st

from callguard.compliance import fields
from callguard.config import load_settings
from callguard.fronts.sip import server as server_module
from callguard.fronts.sip.mapping import REASONS, build_response
from callguard.fronts.sip.server import SipFront, _stamp_via, _Tags
from callguard.fronts.sip.transactions import (
    Receipt,
    ServerTransactions,
    TimerSettings,
    transaction_key,
)
from callguard.fronts.sip.wire import header_tag, parse
from callguard.numbers.redact import has_digit_run

_ECHOED = ("via", "from", "to", "call-id", "cseq")


def library_response(request: SipRequest, status: int, *, to_tag: str,
                     headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The response as aiosipua's SipResponse writes it (the front's former code)."""
    response = SipResponse(status_code=status, reason_phrase=REASONS.get(status, ""))
    for name in _ECHOED:
        for value in request.headers.get(name):
            # whether the To has a tag is header_tag's (tests/test_sip14.py)
            tagged = name != "to" or status == 100 or header_tag(value) is not None
            response.headers.append(name, value if tagged else f"{value};tag={to_tag}")
    for name, value in headers:
        response.headers.append(name, value)
    return bytes(response)


def library_stamp(request: SipRequest, addr: tuple[str, int]) -> None:
    """RFC 3581 / §18.2.1 through aiosipua's Via codec (the front's former code)."""
    vias = request.headers.get("via")
    top = parse_via(vias[0])
    wants_rport = "rport" in top.params and not top.params["rport"]
    if top.host == addr[0] and not wants_rport:
        return
    top.params["received"] = addr[0]
    if wants_rport:
        top.params["rport"] = str(addr[1])
    vias[0] = stringify_via(top)


SIPP_INVITE = (
    b"INVITE sip:8015550123@127.0.0.1:5060;user=phone SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0;rport\r\n"
    b'From: "dialer" <sip:dialer@127.0.0.1:5061>;tag=1SIPpTag001\r\n'
    b"To: <sip:8015550123@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-1@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:dialer@127.0.0.1:5061;transport=UDP>\r\nMax-Forwards: 70\r\n"
    b"X-Callguard-Campaign: ut-solar-manual\r\nContent-Length: 0\r\n\r\n")

EXTRAS = [
    (),
    (("Contact", "<sip:+18015550123@trunk.example.net>"),
     ("P-Asserted-Identity", "<tel:+18015550100>"), ("X-Callguard-Decision", "d-1")),
    (("Reason", 'SIP;cause=603;text="x"'), ("X-Callguard-Reason", "listed")),
    (("Allow", "INVITE, ACK"), ("Accept", "application/sdp")),
    (("p-asserted-identity", "<tel:+1>"), ("VIA", "SIP/2.0/UDP x"), ("content-length", "9")),
    (("Warning", '399 callguard "missing to"'),),
]


def parsed(data: bytes) -> SipRequest:
    message = SipMessage.parse(data)
    assert isinstance(message, SipRequest)
    return message


@pytest.mark.parametrize("status", [100, 200, 302, 400, 416, 500, 603, 999])
@pytest.mark.parametrize("extras", EXTRAS)
def test_response_octets_are_the_librarys(status, extras):
    request = parsed(SIPP_INVITE)
    assert build_response(request, status, to_tag="abc", headers=extras) == \
        library_response(request, status, to_tag="abc", headers=extras)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                max_size=30)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """A request with generated echoed headers: several Vias, To with and without tags,
    compact names, odd spacing, missing headers."""
    lines = [b"INVITE sip:1@h SIP/2.0"]
    for name in draw(st.lists(st.sampled_from(
            ["Via", "v", "From", "f", "To", "t", "TO", "Call-ID", "i", "CSeq", "X-Other"]),
            max_size=8)):
        value = draw(st.one_of(_TEXT, st.sampled_from(
            ["<sip:a@b>", "<sip:a@b>;tag=1", "<sip:a@b> ; TAG = 2", "SIP/2.0/UDP a, SIP/2.0/TCP b",
             '"x, y" <sip:a@b>', "1 INVITE"])))
        lines.append(name.encode() + b": " + value.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


@given(data=requests(), status=st.sampled_from([100, 302, 603]), extras=st.sampled_from(EXTRAS))
def test_generated_response_octets_are_the_librarys(data, status, extras):
    request = parsed(data)
    assert build_response(request, status, to_tag="t9", headers=extras) == \
        library_response(request, status, to_tag="t9", headers=extras)


@pytest.mark.parametrize("extras", [(("X-Bad", "a\r\nVia: injected"),),
                                    (("X-Bad\r\nVia", "a"),), (("X:Bad", "a"),)])
def test_a_line_break_is_refused_as_the_library_refuses_it(extras):
    request = parsed(SIPP_INVITE)
    with pytest.raises(ValueError, match=r"line breaks|Invalid header name"):
        library_response(request, 302, to_tag="t", headers=extras)
    with pytest.raises(ValueError, match=r"line breaks|Invalid header name"):
        build_response(request, 302, to_tag="t", headers=extras)


VIAS = [
    "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0;rport",
    "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0",
    "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-1",
    "SIP/2.0/UDP 10.0.0.9:5061;branch=z9hG4bK-1",
    "SIP/2.0/UDP 127.0.0.1:5061;rport;branch=z9hG4bKa;received=9.9.9.9",
    "SIP/2.0/UDP 127.0.0.1:5061;rport=7;branch=z9hG4bKa",
    "SIP/2.0/udp 127.0.0.1:5061;branch=z9hG4bKa;rport",
    "SIP/2.0/UDP 127.0.0.1:05061;branch=z9hG4bKa;rport",
    "SIP/2.0/UDP 127.0.0.1:5061 ;branch=z9hG4bKa ; rport",
    "SIP/2.0/UDP 127.0.0.1:5061;Branch=z9hG4bKa;RPORT",
    "SIP/2.0/UDP 127.0.0.1:5061;branch=a;branch=b;rport",
    "SIP/2.0/UDP [::1]:5061;branch=z9hG4bKa;rport",
    "SIP/2.0/UDP host.example:x;branch=z9hG4bKa;rport",
    "SIP/2.0/UDP 127.0.0.1:5061;;branch=z9hG4bKa;rport",
    "SIP/2.0/UDP 127.0.0.1:5061;branch=;rport",
    "SIP/2.0/UDP 127.0.0.1:5061;maddr=\"q;x\";rport",
]


def with_via(via: str) -> bytes:
    return SIPP_INVITE.replace(b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-1-0;rport",
                               via.encode())


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("addr", [("127.0.0.1", 5061), ("127.0.0.1", 40000),
                                  ("192.0.2.7", 5061), ("::1", 5061)])
def test_stamped_via_is_the_librarys(via, addr):
    fast, slow = parsed(with_via(via)), parsed(with_via(via))
    _stamp_via(fast, addr)
    library_stamp(slow, addr)
    assert fast.headers.get("via") == slow.headers.get("via")


_VIA_PART = st.sampled_from(["branch=z9hG4bKx", "rport", "rport=1", "received=1.2.3.4",
                             "RPORT", "x", "x=", "=y", " lr ", "ttl=1", "branch=a b", ""])


@given(host=st.sampled_from(["127.0.0.1", "10.1.2.3", "h.example", "[::1]", "H.Example", "a:b"]),
       port=st.sampled_from(["", ":5060", ":5061", ":0", ":x", ":99999", ":+1"]),
       transport=st.sampled_from(["UDP", "TCP", "udp", "TLS"]),
       params=st.lists(_VIA_PART, max_size=5),
       addr=st.sampled_from([("127.0.0.1", 5061), ("10.1.2.3", 1), ("h.example", 9)]))
def test_generated_stamped_via_is_the_librarys(host, port, transport, params, addr):
    via = f"SIP/2.0/{transport} {host}{port}" + "".join(f";{p}" for p in params)
    fast, slow = parsed(with_via(via)), parsed(with_via(via))
    _stamp_via(fast, addr)
    library_stamp(slow, addr)
    assert fast.headers.get("via") == slow.headers.get("via")


def as_parsed(data: bytes) -> object:
    """What a parse gives, comparable: the message's fields, or the error's text."""
    try:
        message = SipMessage.parse(data)
    except ValueError as exc:
        return ("error", str(exc))
    return (type(message).__name__, vars(message) | {"headers": list(message.headers.items())})


def fast_parsed(data: bytes) -> object:
    try:
        message = parse(data)
    except ValueError as exc:
        return ("error", str(exc))
    return (type(message).__name__, vars(message) | {"headers": list(message.headers.items())})


ODD = [SIPP_INVITE, SIPP_INVITE.replace(b"\r\n", b"\n"), SIPP_INVITE.replace(b"\r\n", b"\r"),
       SIPP_INVITE + b"body", SIPP_INVITE.replace(b"Content-Length: 0", b"Content-Length: 2"),
       SIPP_INVITE.replace(b"Content-Length: 0", b"Content-Length: x") + b"abc",
       SIPP_INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\n  folded\r\n\tagain"),
       SIPP_INVITE.replace(b"Max-Forwards: 70", b"v: SIP/2.0/UDP a, SIP/2.0/UDP b,,\r\nm:\r\n"
                           b"Contact: <sip:a,b@c>, \"x,y\" <sip:d>\r\nno colon\r\n: empty"),
       b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", b"SIP/2.0\r\n\r\n", b"INVITE x\r\n\r\n",
       b"", b"\r\n\r\n", b" \r\nVia: x\r\n\r\n", b"\xff\xfe INVITE sip:a@b SIP/2.0\r\n\r\n",
       b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 257 + b"\r\n",
       b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 256 + b"\r\n"]


@pytest.mark.parametrize("data", ODD, ids=range(len(ODD)))
def test_parse_is_the_librarys(data):
    assert fast_parsed(data) == as_parsed(data)


@given(data=st.one_of(st.binary(max_size=400), st.builds(
    lambda start, end, middle: SIPP_INVITE[:start] + middle + SIPP_INVITE[end:],
    st.integers(0, len(SIPP_INVITE)), st.integers(0, len(SIPP_INVITE)),
    st.sampled_from([b"\r\n", b"\n", b"\r", b",", b":", b";", b'"', b"<", b">", b" ", b"\t",
                     b"\r\n ", b"\r\n\r\n", b"v:", b"\x00", b"\xc3", b", ,", b"f: a,b"]))))
def test_generated_parse_is_the_librarys(data):
    assert fast_parsed(data) == as_parsed(data)


def test_to_tags_are_48_random_bits_and_do_not_repeat():
    tags = _Tags()
    seen = [tags() for _ in range(5000)]
    assert all(len(t) == 12 and int(t, 16) >= 0 for t in seen)
    assert len(set(seen)) == len(seen)


class _NoGate:
    """OPTIONS never reach the gate; asking it is a failure."""

    async def check(self, request: object, *, budget_s: float | None = None) -> object:
        raise AssertionError("the gate was asked")


def _options(branch: str, size: int = 0) -> bytes:
    head = (f"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bK{branch}\r\n"
            f"From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\n").encode()
    tail = b"Content-Length: 0\r\n\r\n"
    if size:
        pad = size - len(head) - len(tail) - len(b"X-Pad: \r\n")
        head += b"X-Pad: " + b"p" * pad + b"\r\n"
    return head + tail


async def test_a_burst_is_read_whole_and_the_size_limit_holds() -> None:
    """The front reads many datagrams per wake-up into a buffer one byte over the limit:
    a burst larger than one read is answered whole, a datagram at the limit is answered,
    one byte over is counted and answered 513 Message Too Large (its header block came
    whole; nothing decided), and so is one far over — its header block cut at the limit,
    answered from its whole lines (hsip18: it was dropped, the dialer waiting out Timer
    B)."""
    settings = load_settings()
    sip = replace(settings.sip, port=0, tcp=False)
    front = SipFront(_NoGate(), sip)  # type: ignore[arg-type]
    await front.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    client.setblocking(False)
    try:
        limit = sip.max_datagram_bytes
        for data in (_options("at", limit), _options("over", limit + 1),
                     _options("far", 60000), *(_options(f"b{i}") for i in range(100))):
            client.sendto(data, ("127.0.0.1", front.port))
        await asyncio.sleep(0.3)
        replies = []
        with contextlib.suppress(BlockingIOError):
            while True:
                replies.append(client.recv(65536))
        branches = sorted(r.split(b"branch=z9hG4bK", 1)[1].split(b"\r\n", 1)[0].split(b";", 1)[0]
                          for r in replies)
        assert branches == sorted([b"at", b"far", b"over",
                                   *(f"b{i}".encode() for i in range(100))])
        too_large = [r for r in replies if b"branch=z9hG4bKover" in r
                     or b"branch=z9hG4bKfar" in r]
        assert len(too_large) == 2
        assert all(r.startswith(b"SIP/2.0 513 Message Too Large\r\n") for r in too_large)
        assert all(b"X-Pad" not in r for r in too_large)
        assert all(r.startswith(b"SIP/2.0 200 OK") for r in replies if r not in too_large)
        assert front.stats.counts["oversized"] == 2
        assert front.stats.counts["too_large_answered"] == 2
    finally:
        client.close()
        await front.close()


class _BusySocket(socket.socket):
    """A real UDP socket whose next ``refuse`` sends find the kernel's buffer full (over
    loopback the kernel never refuses, so the refusal is the one thing made up here)."""

    refuse = 0

    def sendto(self, data, addr):  # type: ignore[override]
        if self.refuse:
            self.refuse -= 1
            raise BlockingIOError
        return super().sendto(data, addr)


async def test_refused_sends_wait_in_order_and_the_queue_is_bounded(monkeypatch) -> None:
    """A response the kernel refuses waits for the socket to be writable, later ones
    queue behind it (order kept); past the bound they are dropped and counted."""
    monkeypatch.setattr(server_module, "_SEND_QUEUE", 3)
    sip = replace(load_settings().sip, port=0, tcp=False)
    front = SipFront(_NoGate(), sip)  # type: ignore[arg-type]
    udp = server_module._Udp(local_addr=("127.0.0.1", 0))
    sock = _BusySocket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    udp._sock, udp._front, udp._waiting = sock, front, collections.deque()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    try:
        sock.refuse = 2
        for i in range(6):
            udp.send_bytes(f"m{i}".encode(), peer.getsockname())
        assert front.stats.counts["udp_send_dropped"] == 3  # m0 refused: m0-m2 wait
        await asyncio.sleep(0.05)  # writable: the first flush is refused once, then sends
        got = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(peer.recv(100))
        assert got == [b"m0", b"m1", b"m2"]
        udp.send_bytes(b"after", peer.getsockname())  # the queue is empty: sent at once
        await asyncio.sleep(0.01)
        assert peer.recv(100) == b"after"
    finally:
        await udp.stop()
        peer.close()


async def test_a_bug_on_one_datagram_is_counted_and_reading_goes_on(monkeypatch) -> None:
    """If handling a datagram raises (it should not), the error is counted and logged
    without the number, and the next datagram in the same read is still answered."""
    sip = replace(load_settings().sip, port=0, tcp=False)
    front = SipFront(_NoGate(), sip)  # type: ignore[arg-type]
    await front.start()
    handle = front.received

    def flaky(data: bytes, addr: tuple[str, int], transport: object) -> None:
        if b"boom" in data:
            raise ValueError("boom for +18015550123")
        handle(data, addr, transport)  # type: ignore[arg-type]

    monkeypatch.setattr(front, "received", flaky)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    try:
        with structlog.testing.capture_logs() as logs:
            client.sendto(_options("boom"), ("127.0.0.1", front.port))
            client.sendto(_options("fine"), ("127.0.0.1", front.port))
            await asyncio.sleep(0.2)
        assert client.recv(65536).startswith(b"SIP/2.0 200 OK")
        assert front.stats.counts["internal_error"] == 1
        [failed] = [e for e in logs if e["event"] == "sip_datagram_failed"]
        assert "boom" in failed["error"]
        assert "8015550123" not in str(failed)
    finally:
        client.close()
        await front.close()


def test_acknowledged_invites_linger_without_tracked_objects() -> None:
    """After the ACK a transaction is its expiry and To tag alone: retransmitted INVITEs
    and ACKs are absorbed for T4, a late CANCEL can still learn the tag (§9.2), it counts
    against the bound, and nothing of it is left for the garbage collector to walk."""
    table = ServerTransactions(TimerSettings(t1=0.5, t4=5.0, max_transactions=1000))
    keys = [transaction_key(branch=f"z9hG4bK{i}", sent_by="h:5060", method="INVITE",
                            call_id="", cseq=0, from_tag="") for i in range(1000)]
    for i, key in enumerate(keys):
        assert table.receive(key, "INVITE", reliable=False, now=0.0)[0] is Receipt.NEW
        table.respond(key, b"SIP/2.0 302 Moved Temporarily\r\n\r\n", ("h", 5060), now=0.0,
                      tag=f"tag{i}")
        assert table.final_tag(key) == f"tag{i}"
        assert table.receive(key, "ACK", reliable=False, now=0.1)[0] is Receipt.ABSORBED
    assert table.final_tag(keys[7]) == "tag7"
    assert len(table) == 1000
    assert table.receive(keys[0], "INVITE", reliable=False, now=1.0) == (Receipt.ABSORBED, None)
    assert table.receive(keys[0], "ACK", reliable=False, now=1.0) == (Receipt.ABSORBED, None)
    assert table.counts["after_ack"] == 1
    assert table.answered(keys[1]) is True
    extra = transaction_key(branch="z9hG4bKx", sent_by="h:5060", method="INVITE",
                            call_id="", cseq=0, from_tag="")
    assert table.receive(extra, "INVITE", reliable=False, now=1.0)[0] is Receipt.FULL
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o).__name__ == "_Transaction"]
    assert table.due(5.09) == []
    assert len(table) == 1000  # T4 after the ACK (0.1 + 5.0) has not passed
    assert table.due(5.1) == []
    assert len(table) == 0
    assert table.final_tag(keys[7]) is None
    assert table.counts["no_ack"] == 0
    assert table.receive(keys[0], "INVITE", reliable=False, now=5.2)[0] is Receipt.NEW


# What a Call-ID is made of, for the record's check of it: digits, redaction's separators,
# a colon, the shapes it keeps readable (an address, a date, a time, a citation, a version),
# letters and the '@' of a host.
_CALL_ID_PIECES = st.sampled_from([
    "0", "1", "5", "9", "12", "555", "0123", "80155501", "-", ".", " ", "(", ")", "+", "_",
    "/", ":", "@", "\t", "\x7f", "a", "x", "T", "Z", "127.0.0.1", "10.200.100.201:5060",
    "2026-12-05", "10:00", "501.059(8)(a)", "2026.12.5"])


@pytest.mark.parametrize(("call_id", "plain"), [
    ("5000-12345@127.0.0.1", True),  # SIPp's: the shortcut answers
    ("1-4567@127.0.0.1", False),
    ("10.0.0.1-8015550123", False),  # a kept shape first: has_digit_run answers
    ("2026-12-05", False),
    ("b2f1c9a0-6d1e-4c55-9f3e-2a7c1e0d9b44", False),
])
def test_call_id_shortcut_examples(call_id: str, plain: bool) -> None:
    """The record's Call-ID check: its shortcut proves a run only where there is one."""
    assert fields._plain_run(call_id) is plain
    assert not plain or has_digit_run(call_id)


@given(st.lists(_CALL_ID_PIECES, max_size=16).map("".join))
def test_call_id_shortcut_agrees_with_redaction(call_id: str) -> None:
    """A Call-ID kept in clear in the record is exactly one has_digit_run finds no
    number in (the shortcut never hashes one that redaction would keep)."""
    if fields._plain_run(call_id):
        assert has_digit_run(call_id)
    slow = (bool(call_id) and len(call_id) <= 128 and call_id.isprintable() and call_id.isascii()
            and (fields._UUID.fullmatch(call_id) is not None
                 or not has_digit_run(call_id)))
    assert fields.plausible_reference(call_id) == slow
