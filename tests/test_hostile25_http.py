"""Hostile HTTP input, session 28 (hsip25): a Content-Length past ``max_body_bytes``.

A real ``callguard serve``. A body declared larger than the node reads (``[http]
max_body_bytes``, 64 KiB) was waited for: the connection held ``body_timeout_ms`` (10 s)
and answered 408 "did not arrive in time" — the client told the wrong reason, and one
request line per connection held a slot of ``max_connections`` 10 s with 60 bytes sent.
RFC 9110 §15.5.14: 413 Content Too Large; §10.1.1: a server may answer a final status
instead of 100 (Continue) for a body it will not read. Answered 413 at once now, nothing
decided, nothing recorded, the node serving on.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.serve_node import TOKEN, ServeNode, write_lists

BODY = b'{"number":"8015550199","campaign":"ut-solar-manual"}'


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("http25") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _answer(node: ServeNode, request: bytes) -> tuple[bytes, float]:
    """What the node answers (the socket left open: the declared body never comes) and
    how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=15) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, time.monotonic() - started


@pytest.mark.parametrize("declared", ["65537", "99999999999", "1" + "0" * 30])
@pytest.mark.parametrize("expect", ["", "Expect: 100-continue\r\n"])
def test_a_body_declared_too_large_is_413_at_once(node: ServeNode, declared: str,
                                                 expect: str) -> None:
    records = node.data / "compliance.jsonl"
    before = records.read_text() if records.exists() else ""
    request = (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {declared}\r\n"
               f"{expect}\r\n").encode() + BODY
    answer, took = _answer(node, request)
    if len(declared) > 20:  # past what aiohttp's parser holds: its own JSON 400, at once
        assert answer.startswith(b"HTTP/1.0 400 "), answer
        assert b"Content-Length overflow" in answer
    else:  # no 100 (Continue) first: the client is not told to send what is never read
        assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"error"' in answer
    assert b"application/json" in answer
    assert took < 5, took  # not after body_timeout_ms (10 s)
    assert (records.read_text() if records.exists() else "") == before
    assert node.http("/healthz", token=None)[0] == 200
    assert "5550199" not in node.stderr()


def test_a_body_within_the_limit_is_still_read(node: ServeNode) -> None:
    status, body = node.json("/v1/check", {"number": "8015550199",
                                           "campaign": "ut-solar-manual"})
    assert (status, body["verdict"]) == (200, "BLOCK")
