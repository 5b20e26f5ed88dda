"""Hostile input at the HTTP port (hhost23): a real ``callguard serve``, raw sockets.

An ``Expect`` header other than ``100-continue`` was answered by aiohttp's default expect
handler, which runs before any route or middleware: a ``text/plain`` 417 echoing the
header as sent (``Unknown Expect: 801-555-0199-continue``, the number in clear), on every
path, from a peer without the token too — the one error of the port that was not the
JSON ``{"error": ...}`` the README promises, and a reason that quoted a number whole.
Now a JSON 417 that quotes nothing the peer sent, counted ``bad_http``, nothing decided
or recorded, the connection closed (the body that may follow is not read as a request),
and the port goes on serving. ``Expect: 100-continue`` is still met.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists

BODY = json.dumps({"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}).encode()


def clear_number(data: bytes) -> bool:
    """Seven or more digits of a number used here, with or without separators."""
    plain = re.sub(rb"[-\s().]", b"", data)
    return any(number[-7:] in plain for number in (b"8015550199", b"8015550123"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hhost23") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def exchange(node: ServeNode, data: bytes) -> bytes:
    """Send ``data`` on a new connection, read until the server closes it."""
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def request(method: str, path: str, *, expect: str | None, token: bool = True,
            body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    if token:
        head += f"Authorization: Bearer {TOKEN}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    if expect is not None:
        head += f"Expect: {expect}\r\n"
    return head.encode() + b"\r\n" + body


def records(node: ServeNode) -> int:
    log = node.data / "compliance.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def last_response(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    """The final response (after any ``100 Continue``): status, headers, body."""
    while answer.startswith(b"HTTP/1.1 100 "):
        answer = answer.partition(b"\r\n\r\n")[2]
    head, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, payload


def bad_http(node: ServeNode) -> float:
    metrics = exchange(node, request("GET", "/metrics", expect=None)).decode()
    found = re.search(r'^callguard_http_events_total\{event="bad_http"\} (\S+)$', metrics,
                      re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize(("method", "path", "token"), [
    ("POST", "/v1/check", True), ("POST", "/v1/opt-out", True), ("POST", "/v1/check", False),
    ("GET", "/healthz", False), ("GET", "/metrics", True), ("GET", "/supervisor/meta", True),
    ("GET", "/no/such/path", True), ("PUT", "/v1/check", True)],
    ids=["check", "opt-out", "check-no-token", "healthz", "metrics", "supervisor", "404",
         "405"])
@pytest.mark.parametrize("expect", ["801-555-0199-continue", "8015550199",
                                    "100-continue, 8015550199"])
def test_an_unknown_expectation_is_a_json_417_quoting_nothing(
        node: ServeNode, method: str, path: str, token: bool, expect: str) -> None:
    before, counted = records(node), bad_http(node)
    body = BODY if method in ("POST", "PUT") else b""
    answer = exchange(node, request(method, path, expect=expect, token=token, body=body))
    status, headers, payload = last_response(answer)
    assert status == 417, answer[:300]
    assert headers["content-type"].startswith("application/json"), answer[:300]
    error = json.loads(payload)["error"]
    assert "100-continue" in error, error
    assert not clear_number(answer), answer  # nothing the peer sent is echoed
    assert records(node) == before  # nothing decided or recorded
    assert bad_http(node) == counted + 1
    # the port serves the next request
    status, _, payload = last_response(exchange(
        node, request("POST", "/v1/check", expect=None, body=BODY)))
    assert status == 200
    assert json.loads(payload)["verdict"] == "ALLOW"
    assert records(node) == before + 1


def test_expect_100_continue_is_still_met(node: ServeNode) -> None:
    """A client that waits for ``100 Continue`` before its body gets it, then the answer."""
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(request("POST", "/v1/check", expect="100-Continue", body=BODY
                             )[:-len(BODY)])
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(BODY)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, _, payload = last_response(answer)
    assert status == 200
    assert json.loads(payload)["verdict"] == "ALLOW"


def test_no_number_reached_the_log(node: ServeNode) -> None:
    """Run last in the module: every attack above left stderr without a clear number."""
    assert not clear_number(node.stderr_path.read_bytes())


@pytest.mark.parametrize("order", ["good-first", "good-last"])
def test_two_authorization_headers_are_refused(node: ServeNode, order: str) -> None:
    """``Authorization`` is one credential (RFC 9110 §11.6.2, no list syntax): two lines say
    two things. aiohttp's ``get`` read the first, so the token followed by any other value
    was served (a proxy that adds or checks the other line reads another request than the
    node). Now a 400 naming the header, whichever comes first, nothing decided."""
    lines = [f"Authorization: Bearer {TOKEN}\r\n", "Authorization: Bearer not-the-token\r\n"]
    if order == "good-last":
        lines.reverse()
    before = records(node)
    head = ("POST /v1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + "".join(lines)
            + f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n")
    status, headers, payload = last_response(exchange(node, head.encode() + BODY))
    assert status == 400, payload
    assert headers["content-type"].startswith("application/json")
    assert "Authorization" in json.loads(payload)["error"]
    assert records(node) == before


@pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keep-alive"])
def test_a_client_that_half_closes_after_its_request_gets_the_answer(
        node: ServeNode, keep_alive: bool) -> None:
    """A client may end its side once the request is sent (``shutdown(SHUT_WR)``, ``nc
    -N``): aiohttp's protocol let asyncio close the connection at that EOF, while the
    handler went on, decided and recorded the call — a compliance record of a decision
    nobody was answered (the client read nothing). Now the answer is written, then the
    connection closes."""
    before = records(node)
    data = request("POST", "/v1/check", expect=None, body=BODY)
    if keep_alive:
        data = data.replace(b"Connection: close\r\n", b"")
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, _, payload = last_response(answer)
    assert status == 200, answer[:300]
    assert json.loads(payload)["verdict"] == "ALLOW"
    assert records(node) == before + 1


def test_a_body_cut_by_a_half_close_is_answered_not_decided(node: ServeNode) -> None:
    """The request's end never comes (its body shorter than Content-Length, then EOF):
    nothing decided or recorded, and the client hears why rather than silence."""
    before = records(node)
    data = request("POST", "/v1/check", expect=None, body=BODY)[:-10]
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=20) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status, headers, _ = last_response(answer)
    assert status == 400, answer[:300]
    assert headers["content-type"].startswith("application/json")
    assert records(node) == before


def test_pipelined_requests_then_a_half_close_are_all_answered(node: ServeNode) -> None:
    """Three requests in one write, then the client's end: three answers, three records
    (an answer before the last does not close the connection under the others)."""
    before = records(node)
    one = request("POST", "/v1/check", expect=None, body=BODY).replace(
        b"Connection: close\r\n", b"")
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(one * 3)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200 OK") == 3, answer[:300]
    assert records(node) == before + 3


@pytest.mark.parametrize("n", ["%EF%BC%95", "%D9%A5", "1_0", "+5", "%205", "-5", "5.0"],
                         ids=["fullwidth", "arabic-indic", "underscore", "plus", "space",
                              "negative", "fraction"])
def test_the_supervisor_backlog_size_is_ascii_digits(node: ServeNode, n: str) -> None:
    """``n`` was read by ``int()``, which takes full-width and Arabic-Indic digits,
    ``1_0``, a sign and spaces: ``n=-5`` was 0 and ``n=1_0`` ten. A size the page did not
    ask for in digits is a 400, as every other malformed parameter."""
    answer = exchange(node, request("GET", f"/supervisor/events?n={n}", expect=None))
    status, headers, payload = last_response(answer)
    assert status == 400, answer[:300]
    assert headers["content-type"].startswith("application/json")
    assert "whole number" in json.loads(payload)["error"]
