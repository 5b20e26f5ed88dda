"""Mutation-testing gaps in the SIP TCP Content-Length framing (hmut15).

hhos15's fix splits the head's lines as ``wire.parse`` does (CRLF, LF or CR alone); its
test sent LF-ended lines with the Content-Length last. Splitting at CRLF and LF only (a
head whose lines end in CR alone) or skipping the first header line (a Content-Length
written first) passed it: each framed the declared body as the next request — decided and
recorded as a call nobody asked about (CR alone: the head is answered 505, and its body
must not be decided after it). Against a real ``callguard serve`` over TCP.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.test_hostile15_sip import _decisions, _invite, node

__all__ = ["node"]  # the fixture, from test_hostile15_sip


def _finals(node, data: bytes) -> list[bytes]:
    answers = b""
    with socket.create_connection(("127.0.0.1", node.sip_port), timeout=2) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answers += chunk
    return [line for line in answers.split(b"\r\n")
            if line.startswith(b"SIP/2.0 ") and not line.startswith(b"SIP/2.0 100 ")]


@pytest.mark.parametrize(("eol", "length_first"), [
    (b"\r", False), (b"\n", True), (b"\r\n", True), (b"\r", True)])
def test_a_body_is_one_request_whatever_the_line_ends_and_where_its_length_is(
        node, eol: bytes, length_first: bool) -> None:
    inner = _invite(f"in{time.time_ns()}", transport="TCP").replace(
        b"sip:8015550123@gw SIP", b"sip:8015550199@gw SIP")
    outer = _invite(f"out{time.time_ns()}", transport="TCP").replace(
        b"Content-Length: 0", f"Content-Length: {len(inner)}".encode())
    lines = outer.partition(b"\r\n\r\n")[0].split(b"\r\n")
    if length_first:
        lines.insert(1, lines.pop())
    before = _decisions(node)
    finals = _finals(node, eol.join(lines) + b"\r\n\r\n" + inner)
    assert len(finals) == 1, finals  # the body is never a request of its own
    if eol == b"\r":  # lines ended by CR alone: a malformed head, 400 (hhos16; was 505)
        assert finals == [b"SIP/2.0 400 Bad Request"]
        assert _decisions(node) == before
    else:
        assert _decisions(node) == before + 1, finals
