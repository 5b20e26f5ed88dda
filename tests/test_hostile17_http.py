"""Hostile HTTP clients of a real `callguard serve` (hhos17): bodies that cannot be
decoded as they are declared.

A ``Content-Encoding: gzip`` body that is not gzip was a JSON 500 "internal error", an
``http_internal_error`` with a traceback, and a second traceback from aiohttp's own
logger (``ERROR aiohttp.server: Unhandled exception``, plain text among the JSON lines)
— per request of any client holding the token. A content coding aiohttp does not know
(``Content-Encoding: foo``, ``gzip, gzip``) was read as if there were none: a body that
says it is encoded was guessed at and decided, as a ``text/plain`` body no longer is.
"""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists

CHECK = {"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("http17") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _post(node: ServeNode, body: bytes, headers: dict[str, str],
          path: str = "/v1/check") -> tuple[int, dict[str, str], dict[str, object]]:
    """One request on a raw socket (urllib would not send a false Content-Encoding
    as given); (status, headers, JSON body)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n")
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    lines, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = lines.decode("latin-1").split("\r\n")
    got = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), got, json.loads(payload)


def test_a_body_that_is_not_the_gzip_it_says_is_a_400_naming_why(node: ServeNode) -> None:
    before = node.metric("callguard_http_events_total", '{event="internal_error"}')
    status, _, body = _post(node, json.dumps(CHECK).encode(), {"Content-Encoding": "gzip"})
    assert status == 400, body
    assert "gzip" in str(body["error"]), body
    assert node.metric("callguard_http_events_total", '{event="internal_error"}') == before
    for path in ("/v1/opt-out",):
        status, _, body = _post(node, b'{"number": "8015550124"}',
                                {"Content-Encoding": "deflate"}, path)
        assert status == 400, body
    assert node.alive()
    assert node.http("/healthz")[0] == 200
    stderr = node.stderr()
    assert "Traceback" not in stderr
    assert "Unhandled exception" not in stderr
    assert node.events("http_internal_error") == []


@pytest.mark.parametrize("coding", ["foo", "gzip, gzip", "compress", "x-compress, identity"])
def test_a_content_coding_not_decoded_here_is_a_415(node: ServeNode, coding: str) -> None:
    status, headers, body = _post(node, json.dumps(CHECK).encode(),
                                  {"Content-Encoding": coding})
    assert status == 415, body
    assert "Content-Encoding" in str(body["error"]), body
    assert headers.get("accept-encoding") == "gzip, deflate"  # RFC 9110 15.5.16


def test_two_content_encoding_lines_are_a_415(node: ServeNode) -> None:
    """aiohttp decodes by the first line alone: ``identity`` then ``gzip`` was read as
    plain text, a body that says it is gzip."""
    raw = json.dumps(CHECK).encode()
    head_extra = {"Content-Encoding": "identity\r\nContent-Encoding: gzip"}
    status, _, body = _post(node, raw, head_extra)
    assert status == 415, body


def test_a_gzip_body_that_is_gzip_is_still_decided(node: ServeNode) -> None:
    status, _, body = _post(node, gzip.compress(json.dumps(CHECK).encode()),
                            {"Content-Encoding": "gzip"})
    assert status == 200, body
    assert body["verdict"] == "ALLOW", body


def test_a_chunk_refused_part_way_is_a_400_at_once(node: ServeNode) -> None:
    """A first good chunk, then a chunk size that is not hex: aiohttp queued its 400
    behind the request, whose read waited ``body_timeout_ms`` (10 s) for a body that
    could never come, then answered 408 "did not arrive in time"."""
    body = json.dumps(CHECK).encode()
    head = (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=8) as sock:
        sock.sendall(head.encode() + b"10\r\n" + body[:16] + b"\r\n")
        time.sleep(0.3)  # the handler is reading the body by now
        started = time.monotonic()
        sock.sendall(b"zz\r\n" + body[16:] + b"\r\n0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"chunk" in answer.partition(b"\r\n\r\n")[2].lower(), answer
    assert node.alive()
    assert "Unhandled exception" not in node.stderr()
    status, decided = node.json("/v1/check", CHECK)  # and the node still decides
    assert (status, decided["verdict"]) == (200, "ALLOW")


@pytest.mark.parametrize("at", ["2016-12-31T23:59:60Z", "2016-12-31 23:59:60+00:00",
                                "20161231T235960Z"])
def test_a_leap_second_is_a_400_that_says_so(node: ServeNode, at: str) -> None:
    """RFC 3339 5.6 spells a leap second, datetime cannot hold one: the 400 said the
    instant was "not an ISO-8601 instant", which it is."""
    status, body = node.json("/v1/check", {**CHECK, "at": at})
    assert status == 400, body
    assert "leap second" in body["error"], body


@pytest.mark.parametrize("coding", ["gzip, chunked", "deflate,chunked", "identity, chunked"])
def test_a_transfer_coding_not_undone_here_is_a_501(node: ServeNode, coding: str) -> None:
    """aiohttp undoes ``chunked`` only: ``gzip, chunked`` was read as plain JSON and
    decided — a body that says it is gzip, guessed at (RFC 9112 6.1: 501)."""
    body = json.dumps(CHECK).encode()
    head = (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: {coding}\r\n"
            "Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=8) as sock:
        sock.sendall(head.encode() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 501 "), answer[:200]
    assert b"Transfer-Encoding" in answer.partition(b"\r\n\r\n")[2], answer
