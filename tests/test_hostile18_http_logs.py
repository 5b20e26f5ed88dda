"""No phone number in clear in any log, whatever a hostile HTTP client puts it in
(hhttp18): a real `callguard serve`, every refusal path the port has, a number in every
spelling (ASCII, grouped, full-width, Arabic-Indic, percent-encoded), then the node's
stderr and its compliance log read back for it.

The answers to that client may quote what it sent that is not a number; a number in a
quoted value is shown by its last four, as the parser's reasons already were.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import unicodedata
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists

NUMBER = "8015557734"
FULL = "".join(chr(0xFF10 + int(d)) for d in NUMBER)  # full-width digits
ARABIC = "".join(chr(0x0660 + int(d)) for d in NUMBER)  # Arabic-Indic digits
SPELLINGS = (NUMBER, "801-555-7734", "(801) 555 7734", FULL, ARABIC, "801\u200b555\u200b7734")
CHECK = {"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("http18logs") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def _raw(node: ServeNode, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def _post(body: bytes, extra: str = "", content_type: str = "application/json",
          path: str = "/v1/check", token: str = TOKEN) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{extra}\r\n").encode() + body


def _chunked(body: bytes, coding: str) -> bytes:
    """``Transfer-Encoding: <coding>, chunked`` (no Content-Length: both is the parser's
    own 400)."""
    return (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: {coding}, chunked\r\n"
            "Connection: close\r\n\r\n").encode() + (
                f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")


def _digits(text: str) -> str:
    """Every digit of ``text`` in ASCII, in order, nothing else: a number spelt with any
    separator, invisible character or script reads as its digits."""
    return "".join(str(unicodedata.digit(c)) for c in text if unicodedata.digit(c, None)
                   is not None)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _clear_in(text: str) -> list[str]:
    """The lines (JSON lines: their string values) that hold the number's last seven."""
    found = []
    for line in text.splitlines():
        try:
            values = list(_strings(json.loads(line)))
        except ValueError:
            values = [line]
        found += [v for v in values if "5557734" in _digits(v)]
    return found


def _requests() -> Iterator[bytes]:
    body = json.dumps(CHECK).encode()
    for spelt in SPELLINGS:
        quoted = json.dumps(spelt)
        yield _post(body, content_type=f"text/{spelt}")
        yield _post(body, content_type=f"application/json; charset={spelt}")
        yield _post(body, extra=f"Content-Encoding: x{spelt}\r\n")
        yield _chunked(body, spelt)
        for field in ("at", "mode", "campaign", "number", "location", "reference"):
            yield _post(json.dumps({**CHECK, field: spelt}).encode())
        yield _post(f'{{"number": {quoted}, "number": {quoted}}}'.encode())
        yield _post(f'{{{quoted}: 1}}'.encode())
        yield _post(f'{{"number": {quoted}, "campaign": {quoted}}}'.encode(),
                    path="/v1/opt-out")
        yield _post(f'{{"number": "8015550123", "campaign": {quoted}}}'.encode(),
                    path="/v1/opt-out")
        yield _post(json.dumps({"number": "8015550124", "campaign": "ut-solar-manual",
                                "source": f"agent: call me at {spelt}"}).encode(),
                    path="/v1/opt-out")
        yield _post(gzip.compress(quoted.encode())[:-3], extra="Content-Encoding: gzip\r\n")
        yield _post(body, token=spelt)
        yield _post(b"", path=f"/v1/{spelt}")
    yield b"GET /v1/%38%30%31%35%35%35%37%37%33%34 HTTP/1.1\r\nHost: x\r\n\r\n"
    yield f"GET /supervisor/report?tz={NUMBER} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode()  # noqa: E501
    yield b"POST /v1/check HTTP/1.1\r\nHost: x\r\nX-A: 801555\x007734\r\n\r\n"
    yield f"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: {NUMBER}\r\n\r\n".encode()  # noqa: E501
    yield (b"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
           + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           + NUMBER.encode() + b"zz\r\n{}\r\n0\r\n\r\n")
    yield f"{NUMBER} / HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    yield f"GET /{NUMBER}{'x' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def test_no_number_in_clear_in_any_log(node: ServeNode) -> None:
    answers = [_raw(node, request) for request in _requests()]
    assert all(answers), "every request was answered"
    assert node.alive()
    assert node.http("/healthz")[0] == 200
    assert _clear_in(node.stderr()) == []
    log = node.data / "compliance.jsonl"
    assert log.exists()
    assert _clear_in(log.read_text()) == []


def _error(answer: bytes) -> str:
    return str(json.loads(answer.partition(b"\r\n\r\n")[2])["error"])


@pytest.mark.parametrize("spelt", [NUMBER, "801-555-7734", FULL, ARABIC])
def test_a_refusal_quotes_a_number_by_its_last_four(node: ServeNode, spelt: str) -> None:
    """What the client sent is quoted so it can find its mistake, but not a number in
    clear: a proxy or the dialer's own log keeps what the answer says."""
    body = json.dumps(CHECK).encode()
    quoted = json.dumps(spelt)
    for request in (_post(body, content_type=f"text/{spelt}"),
                    _post(body, content_type=f"application/json; charset={spelt}"),
                    _post(body, extra=f"Content-Encoding: x{spelt}\r\n"),
                    _chunked(body, spelt),
                    _post(json.dumps({**CHECK, "at": spelt}).encode()),
                    _post(json.dumps({**CHECK, "mode": spelt}).encode()),
                    _post(f'{{{quoted}: 1}}'.encode()),
                    _post(f'{{"number": "8015550123", {quoted}: 1, {quoted}: 2}}'.encode()),
                    _post(f'{{"number": "8015550123", "campaign": {quoted}}}'.encode(),
                          path="/v1/opt-out")):
        error = _error(_raw(node, request))
        assert "5557734" not in _digits(error), error
        assert re.search("7734", error), error


@pytest.mark.parametrize("token", [b"\xff\xfe", b"\x80" + TOKEN.encode(), b"", b"\xc3"])
def test_a_token_that_is_not_utf8_is_a_401_not_a_500(node: ServeNode, token: bytes) -> None:
    """aiohttp decodes a header with surrogateescape; ``value.encode()`` raised on a byte
    that is not UTF-8: a 500 and an ``http_internal_error`` traceback per request, from a
    peer that needs no token to send it."""
    before = node.metric("callguard_http_events_total", '{event="internal_error"}')
    body = json.dumps(CHECK).encode()
    answer = _raw(node, b"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  + token + b"\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert node.metric("callguard_http_events_total", '{event="internal_error"}') == before
    assert node.events("http_internal_error") == []


def test_two_content_type_lines_are_refused(node: ServeNode) -> None:
    """``application/json`` then ``text/plain``: the body says two things. aiohttp's parser
    refuses it itself (a JSON 400, ``bad_http``); held against an aiohttp bump."""
    answer = _raw(node, _post(json.dumps(CHECK).encode(), extra="Content-Type: text/plain\r\n"))
    assert answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), answer[:300]
    assert "Content-Type" in _error(answer)


def test_the_report_quotes_a_zone_by_its_last_four_digits(node: ServeNode) -> None:
    answer = _raw(node, f"GET /supervisor/report?tz=x{NUMBER} HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    error = _error(answer)
    assert "5557734" not in _digits(error), error
    assert "7734" in error, error
