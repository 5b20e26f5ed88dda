"""A new admin's typo in a ``POST`` body (hnew33): ``{"numbr": ...}`` was answered
"unknown field(s) numbr" — what the route takes went unsaid, to be looked up in the
OpenAPI description. The 400 now names the fields the route takes, required and optional;
a field name that is a number is still quoted by its last four. A real ``callguard
serve``, raw sockets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hnew33") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def post(node: ServeNode, path: str, body: dict[str, str]) -> tuple[int, dict[str, str]]:
    raw = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(head + raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_a_mistyped_check_field_is_named_with_the_fields_the_route_takes(
        node: ServeNode) -> None:
    status, body = post(node, "/v1/check",
                        {"numbr": "8015550123", "campaign": "ut-solar-manual", "at": AT})
    assert status == 400
    error = body["error"]
    assert "numbr" in error
    assert "required: number, campaign" in error
    assert "optional: mode, at, location, reference" in error


def test_a_mistyped_opt_out_field_is_named_with_the_fields_the_route_takes(
        node: ServeNode) -> None:
    status, body = post(node, "/v1/opt-out",
                        {"number": "8015550142", "campaign": "ut-solar-manual",
                         "reason": "asked"})
    assert status == 400
    assert "required: number, campaign; optional: source" in body["error"]


def test_a_field_named_by_a_number_is_still_quoted_by_its_last_four(node: ServeNode) -> None:
    status, body = post(node, "/v1/check", {"801 555 0123": "x", "campaign": "ut-solar-manual"})
    assert status == 400
    assert "0123" in body["error"]
    assert "555 0123" not in body["error"]
    assert "5550123" not in body["error"]
