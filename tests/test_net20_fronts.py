"""The SIP and HTTP fronts against strangers and under a low open-files limit, over a
real ``callguard serve`` (network examiner 20).

- ``[sip] max_in_flight_per_source`` (512) was left as it was when ``serve`` lowered
  ``max_in_flight`` to fit the open-files limit: under a cap of 200 it bounded nothing,
  and one dialer's flood took every place the other dialers had. It is now lowered in the
  same proportion, and ``connection_caps_lowered`` says so.
- ``[http] max_connections_per_source`` and ``[sip] max_tcp_connections_per_source``
  (128 each) likewise: under a 1,000-descriptor limit ``[http] max_connections`` is
  lowered to 35, and one address holding 35 idle connections left none for the others.
- A peer outside ``allowed_sources`` (SIP over UDP and TCP, HTTP) was counted
  (``refused_source``) and never logged: an admin whose dialer's address was not listed
  saw a counter climb and nothing naming the address. Now ``sip_source_refused`` /
  ``http_source_refused``: the address, at most a line a minute, never what it sent.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from callguard.cli.serve import _per_source_cap
from callguard.fronts.dual_stack import StrangerLog
from tests.serve_node import ServeNode, write_lists

STRANGER = "127.0.0.2"  # loopback, but outside 127.0.0.1/32
NUMBER = "8015550123"


@pytest.mark.usefixtures("redis_server")
def test_lowered_in_flight_cap_lowers_the_per_source_cap(tmp_path: Path, redis_server) -> None:
    """Redis records under a 6,000-descriptor limit: ``max_in_flight`` 1,024 is lowered
    (test_operator17_fdlimit); ``max_in_flight_per_source`` follows it, half of it as 512
    was half of 1,024, and the log names it. Before: no such key, the cap stayed 512."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True,
                     rlimit_nofile=6_000)
    write_lists(node.data, [8015550199])
    node.start()
    try:
        event = node.events("connection_caps_lowered")[0]
        in_flight = event["sip_max_in_flight"]
        per_source = event.get("sip_max_in_flight_per_source")
        assert per_source is not None, event
        assert 1 <= per_source < in_flight < 1_024
        assert per_source == max(1, in_flight * 512 // 1_024)
    finally:
        node.stop()


def test_one_source_cannot_take_a_lowered_http_cap(tmp_path: Path) -> None:
    """Embedded stores under a 1,000-descriptor limit: ``[http] max_connections`` is
    lowered to 35 (and SIP's TCP cap); the per-source caps follow (17 of 35, as 128 of
    256). One address opens 40 silent connections: past 17 they are closed at once, and
    another address still gets /healthz. Before: the per-source cap stayed 128, the one
    address held all 35 places and the other was closed unanswered."""
    node = ServeNode(tmp_path / "node", rlimit_nofile=1_000)
    write_lists(node.data, [8015550199])
    node.start()
    held: list[socket.socket] = []
    try:
        event = node.events("connection_caps_lowered")[0]
        http_cap, http_per_source = event["http"], event.get("http_per_source")
        assert http_per_source == max(1, http_cap * 128 // 256), event
        assert event.get("sip_tcp_per_source") == max(1, event["sip_tcp"] * 128 // 1024)
        assert http_cap < 40
        for _ in range(40):
            held.append(socket.create_connection(("127.0.0.1", node.http_port), timeout=5))
        time.sleep(0.3)  # the node has accepted (or closed) each of them
        with socket.create_connection(("127.0.0.1", node.http_port), timeout=5,
                                      source_address=(STRANGER, 0)) as other:
            other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := other.recv(4096):
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer
    finally:
        for sock in held:
            sock.close()
        node.stop()


def _udp_from_stranger(node: ServeNode, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((STRANGER, 0))
        sock.sendto(data, ("127.0.0.1", node.sip_port))


def _tcp_from_stranger(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(STRANGER, 0)) as sock:
        try:
            sock.sendall(data)
            return sock.recv(4096)
        except OSError:
            return b""


def test_strangers_are_logged_by_address_once_a_minute(tmp_path: Path) -> None:
    """A stranger's INVITEs over UDP (50 of them) and TCP, and its HTTP request, are
    refused unanswered as before, and now logged: one ``sip_source_refused`` line (not 51)
    and one ``http_source_refused``, each naming 127.0.0.2, no line carrying the number
    the INVITE and the query string held. Before: counted only, no line at all."""
    node = ServeNode(tmp_path / "node", extra_http={
        "allowed_sources = []": 'allowed_sources = ["127.0.0.1/32"]'})
    write_lists(node.data, [8015550199])
    node.start()
    try:
        invite = (f"INVITE sip:{NUMBER}@gw SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP {STRANGER}:5099;branch=z9hG4bKnet20s;rport\r\n"
                  f"From: <sip:dialer@x>;tag=1\r\nTo: <sip:{NUMBER}@gw>\r\n"
                  "Call-ID: net20-stranger\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                  "Content-Length: 0\r\n\r\n").encode()
        for _ in range(50):
            _udp_from_stranger(node, invite)
        assert _tcp_from_stranger(node.sip_port, invite) == b""
        assert _tcp_from_stranger(node.http_port, (
            f"GET /v1/check?number={NUMBER} HTTP/1.1\r\nHost: x\r\n\r\n").encode()) == b""
        node.until(lambda: node.events("sip_source_refused")
                   and node.events("http_source_refused"), timeout=10)
        time.sleep(0.5)
        sip = node.events("sip_source_refused")
        http = node.events("http_source_refused")
        assert len(sip) == 1, sip
        assert sip[0]["source"] == STRANGER
        assert "[sip] allowed_sources" in sip[0]["fix"]
        assert [e["source"] for e in http] == [STRANGER]
        assert NUMBER not in node.stderr()
    finally:
        node.stop()


def test_stranger_log_says_how_many_were_refused_since_its_last_line() -> None:
    """The pure part, on a synthetic clock: the first refusal logged at once; the next 99
    within the minute only counted; the first after it logged with all 100 since the last
    line and at most eight distinct addresses among them."""
    now = [0.0]
    log = StrangerLog("sip_source_refused", "[sip] allowed_sources", clock=lambda: now[0])
    with capture_logs() as lines:
        log.refused("10.0.0.1")
        for i in range(99):
            now[0] += 0.5
            log.refused(f"10.0.1.{i}")
        now[0] = 60.5
        log.refused("10.0.2.1")
    assert [(line["source"], line["refused"]) for line in lines] == [
        ("10.0.0.1", 1), ("10.0.2.1", 100)]
    assert len(lines[1]["sources"]) == 8


def test_a_per_source_cap_keeps_its_share_of_the_lowered_cap() -> None:
    """512 of 1,024 is 100 of 200; a cap set to the whole (an SBC, a reverse proxy) stays
    the whole; one above it is the whole; nothing lowered, nothing changed."""
    assert _per_source_cap(512, 1_024, 200) == 100
    assert _per_source_cap(256, 256, 35) == 35
    assert _per_source_cap(4_096, 256, 35) == 35
    assert _per_source_cap(1, 1_024, 3) == 1
    assert _per_source_cap(128, 256, 256) == 128
