"""Hostile HTTP bodies against a real `callguard serve`, reviewed (hrev38 on hhos17).

- aiohttp's pure-Python parser (``AIOHTTP_NO_EXTENSIONS=1``, or a platform without its C
  extension) fails a malformed chunk with its own ``TransferEncodingError`` on the body,
  not the ``RequestPayloadError`` the C parser path gives: the 400 hhos17 made of it was a
  500 "internal error", an ``http_internal_error`` with a traceback and aiohttp's plain
  text "Unhandled exception" traceback — and, after a 401, that traceback alone for a
  peer without the token, per request.
- An encoded body answered before it was read (401, 413) was read on after the answer
  (aiohttp's lingering close) until the header timeout, every byte inflated: a gzip body of
  zeros costs about 1000 times its size, so a peer without the token had the node inflate
  a GB per MB it sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists

CHECK = {"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}
BODY = json.dumps(CHECK).encode()


def _node(tmp: pytest.TempPathFactory, name: str, env: dict[str, str]) -> ServeNode:
    serve = ServeNode(tmp.mktemp(name) / "node", env_extra=env)
    write_lists(serve.data, [8015550199])
    return serve.start()


@pytest.fixture(scope="module")
def py_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = _node(tmp_path_factory, "rev38py", {"AIOHTTP_NO_EXTENSIONS": "1"})
    yield serve
    serve.stop()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = _node(tmp_path_factory, "rev38c", {})
    yield serve
    serve.stop()


def _head(*, token: bool = True, extra: str = "Transfer-Encoding: chunked\r\n") -> bytes:
    auth = f"Authorization: Bearer {TOKEN}\r\n" if token else ""
    return (f"POST /v1/check HTTP/1.1\r\nHost: x\r\n{auth}"
            f"Content-Type: application/json\r\n{extra}\r\n").encode()


def _exchange(node: ServeNode, *parts: bytes, gap: float = 0.3) -> tuple[float, bytes]:
    """Send ``parts`` ``gap`` apart on one connection; (seconds from the last part to
    the server's close, all it answered)."""
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=15) as sock:
        for i, part in enumerate(parts):
            if i:
                time.sleep(gap)
            sock.sendall(part)
        started = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return time.monotonic() - started, answer


def test_the_python_parser_is_the_one_under_test(py_node: ServeNode) -> None:
    """Each parser names a repeated Transfer-Encoding its own way: the env took."""
    _, answer = _exchange(py_node, _head(extra="Transfer-Encoding: chunked\r\n"
                                         "Transfer-Encoding: chunked\r\n") + b"0\r\n\r\n")
    assert b"Duplicate 'Transfer-Encoding'" in answer, answer


def test_python_parser_a_malformed_chunk_is_a_400_not_a_500(py_node: ServeNode) -> None:
    elapsed, answer = _exchange(py_node, _head() + b"10\r\n" + BODY[:16] + b"\r\n",
                                b"zz\r\n" + BODY[16:] + b"\r\n0\r\n\r\n")
    assert elapsed < 5
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"chunk" in answer.partition(b"\r\n\r\n")[2].lower(), answer
    assert py_node.events("http_internal_error") == []
    stderr = py_node.stderr()
    assert "Traceback" not in stderr
    assert "Unhandled exception" not in stderr
    status, decided = py_node.json("/v1/check", CHECK)
    assert (status, decided["verdict"]) == (200, "ALLOW")


def test_python_parser_no_traceback_for_a_peer_without_the_token(py_node: ServeNode) -> None:
    """The 401 is answered at the head; the bad chunk comes while aiohttp lingers."""
    _, answer = _exchange(py_node, _head(token=False) + b"10\r\n" + BODY[:16] + b"\r\n",
                          b"zz\r\n" + BODY[16:] + b"\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:300]
    time.sleep(0.3)
    assert "Unhandled exception" not in py_node.stderr()
    assert "Traceback" not in py_node.stderr()


def _bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros in gzip: about a thousandth of that on the wire."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


def _cpu_s(node: ServeNode) -> float:
    """CPU seconds the node's process has spent (utime + stime)."""
    stat = Path(f"/proc/{node.process.pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("token", [False, True], ids=["401", "413"])
def test_an_encoded_body_answered_early_is_not_inflated_on(node: ServeNode,
                                                          token: bool) -> None:
    bomb = _bomb(512)  # 512 MiB inflated, about 0.5 MB sent
    head = _head(token=token, extra="Content-Encoding: gzip\r\n"
                 f"Content-Length: {len(bomb)}\r\n")
    cpu_before = _cpu_s(node)
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=15) as sock:
        def send() -> None:
            with contextlib.suppress(OSError):  # closed on us: what is tested
                sock.sendall(head + bomb)
        sender = threading.Thread(target=send)
        sender.start()
        answer = b""
        started = time.monotonic()
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        closed_after = time.monotonic() - started
        sender.join(10)
    expected = b"HTTP/1.1 401 " if not token else b"HTTP/1.1 413 "
    assert answer == b"" or answer.startswith(expected), answer[:200]
    # it lingered until the header timeout (5 s), inflating all the while
    assert closed_after < 2.5, closed_after
    assert _cpu_s(node) - cpu_before < 0.4
    assert node.alive()
    assert "Unhandled exception" not in node.stderr()
    assert node.http("/healthz")[0] == 200


RAW = b'{"number": "801-555-0199", "campaign": "ut-solar-manual"}\r\n'


@pytest.mark.parametrize("split", [False, True], ids=["at-once", "part-way"])
def test_python_parser_a_refused_line_is_quoted_without_the_number(py_node: ServeNode,
                                                                   split: bool) -> None:
    """``chunked`` declared, the JSON sent as is: the parser quotes the line it refused
    (its "chunk size"), the number in it."""
    parts = (_head(), RAW) if split else (_head() + RAW,)
    _, answer = _exchange(py_node, *parts)
    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.0 400 ")), answer[:300]
    error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
    assert "555" not in error, error
    assert "0199" in error, error


def test_an_encoded_body_arrived_whole_before_its_early_answer_closes_too(node: ServeNode
                                                                       ) -> None:
    """The race behind a CI failure of the test above (lead, session 26: closed after
    5.01 s): when the whole encoded body has arrived before the answer (here, sent with the
    head in one write), it is not "still to come" and nothing failed it, so aiohttp kept
    the connection alive, unread body and all, until the header clock closed it 5 s later.
    An answer given before an encoded body was read closes the connection either way."""
    bomb = _bomb(64)  # 64 MiB inflated, ~64 KB sent with the head
    head = _head(token=False, extra="Content-Encoding: gzip\r\n"
                 f"Content-Length: {len(bomb)}\r\n")
    closed_after, answer = _exchange(node, head + bomb)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert closed_after < 2.5, closed_after
    assert node.http("/healthz")[0] == 200
