"""Review of hhttp18's HTTP changes (hrev47), on a real `callguard serve`.

- An empty body that says ``Content-Encoding: gzip`` reached aiohttp's
  ``EmptyStreamReader``, which has no ``total_compressed_bytes``: a 500 and an
  ``http_internal_error`` traceback per request, where a body that is not gzip is a 400.
- A value quoted in a 4xx was cut at its limit, then redacted: a number the cut fell
  inside kept its first six digits in clear (fewer than the seven a run needs).
- The 415 a Content-Encoding gets carries ``Accept-Encoding``; the description listed
  only ``Accept``. /v1/check answers a 500 on a fault of the node (as above) too.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest

from callguard.numbers.redact import clipped
from tests.serve_node import AT, TOKEN, ServeNode, write_lists

NUMBER = "8015557734"
CHECK = {"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("review47") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _raw(node: ServeNode, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, payload


def _post(body: bytes, extra: str = "", content_type: str = "application/json",
          path: str = "/v1/check", length: bool = True) -> bytes:
    sized = f"Content-Length: {len(body)}\r\n" if length else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: {content_type}\r\n{sized}Connection: close\r\n{extra}\r\n"
            ).encode() + body


@pytest.mark.parametrize("path", ["/v1/check", "/v1/opt-out"])
@pytest.mark.parametrize("coding", ["gzip", "deflate", "GZIP"])
@pytest.mark.parametrize("length", [True, False], ids=["length-0", "no-length"])
def test_an_empty_encoded_body_is_a_400_not_a_500(node: ServeNode, path: str, coding: str,
                                                  length: bool) -> None:
    """Nothing to inflate is not gzip: the sender's error, named, never a traceback."""
    status, _, payload = _raw(node, _post(b"", f"Content-Encoding: {coding}\r\n", path=path,
                                          length=length))
    assert status == 400, payload
    assert "empty" in json.loads(payload)["error"], payload
    assert node.events("http_internal_error") == []


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize("pad", range(50, 60))
def test_a_value_cut_inside_a_number_shows_none_of_its_digits(node: ServeNode,
                                                              pad: int) -> None:
    """'at', Content-Type, Content-Encoding, Transfer-Encoding and the report's zone are
    quoted up to 60 characters: a number straddling the 60th showed its first digits."""
    value = "x" * pad + NUMBER
    body = json.dumps(CHECK).encode()
    requests = [
        _post(json.dumps({**CHECK, "at": value}).encode()),
        _post(body, content_type=f"text/{value}"),
        _post(body, extra=f"Content-Encoding: {value}\r\n"),
        _post(json.dumps({**CHECK, "y" * (pad + 140): 1, "z" + NUMBER: 1}).encode()),
        (f"GET /supervisor/report?tz={value} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
         f"{TOKEN}\r\nConnection: close\r\n\r\n").encode(),
    ]
    for request in requests:
        status, _, payload = _raw(node, request)
        assert status in (400, 415), payload
        error = json.loads(payload)["error"]
        assert "8015" not in _digits(error), error


def test_a_short_value_is_quoted_whole() -> None:
    """Within the limit nothing is cut: the client finds its mistake as it sent it."""
    assert clipped("2026-11-25T25:00:00-07:00", 60) == "2026-11-25T25:00:00-07:00"
    assert clipped("text/plain; charset=latin-1", 60) == "text/plain; charset=latin-1"
    assert clipped("x" * 70, 60) == "x" * 60 + "\u2026"
    assert clipped("x" * 54 + NUMBER, 60) == "x" * 54 + "\u2026"
    assert clipped("x" * 40 + "+1 (801) 555-7734", 60) == "x" * 40 + "[number …7734]"


def test_every_header_an_error_answer_carries_is_described(node: ServeNode) -> None:
    """A client generated from /openapi.json reads the 415's Accept-Encoding only if the
    description names it; and /v1/check answers a 500 on a fault of the node."""
    spec = json.loads(node.http("/openapi.json", token=None)[1])
    body = json.dumps(CHECK).encode()
    for path in ("/v1/check", "/v1/opt-out"):
        responses = spec["paths"][path]["post"]["responses"]
        for extra, content_type in (("Content-Encoding: br\r\n", "application/json"),
                                    ("", "text/plain")):
            status, headers, payload = _raw(node, _post(body, extra, content_type, path))
            assert status == 415, payload
            answered = {h for h in ("accept", "accept-encoding") if h in headers}
            described = {h.lower() for h in responses["415"].get("headers", {})}
            assert answered <= described, (path, answered, described)
        assert "500" in responses, path
