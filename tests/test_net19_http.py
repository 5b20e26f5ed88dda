"""The HTTP port against what real clients send — hnet19.

- ``Content-Encoding: x-gzip`` is gzip (RFC 9110 §8.4.1.3: "A recipient SHOULD consider
  x-gzip to be equivalent to gzip"), and ``identity`` in a coding list is no coding
  (§8.4.1: the registry reserves it as the "no encoding" synonym): a dialer's HTTP
  library that writes either had its gzip body refused 415, its call not placed.
- The bearer token's comparison took as long as the shorter of the two: ``hmac.
  compare_digest`` returns at once on a length mismatch, so a peer could time the answer
  to learn the token's length. Both sides are hashed first (equal lengths always).
- ``/openapi.json`` did not describe the ``/supervisor`` routes the port serves.
- ``docker/callguard.toml`` did not say ``[http] max_at_skew`` exists.
"""

from __future__ import annotations

import gzip
import hmac
import json
import socket
import threading
import tomllib
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callguard.fronts.http import app as http_app
from tests.conftest import ROOT
from tests.serve_node import AT, TOKEN, ServeNode, write_lists

CHECK = {"number": "8015550199", "campaign": "ut-solar-manual", "at": AT}
GZ = gzip.compress(json.dumps(CHECK).encode())


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("net19") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def post(node: ServeNode, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    head = (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n")
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    lines, _, payload = answer.partition(b"\r\n\r\n")
    return int(lines.split()[1]), json.loads(payload)


@pytest.mark.parametrize("coding", ["x-gzip", "X-GZIP", "gzip, identity",
                                    "identity, x-gzip"])
def test_x_gzip_and_identity_in_a_list_are_gzip(node: ServeNode, coding: str) -> None:
    """Decided as the gzip body it is: the listed number BLOCKed, not a 415."""
    status, body = post(node, GZ, {"Content-Encoding": coding})
    assert status == 200, body
    assert body["verdict"] == "BLOCK", body
    assert body["rule"] == "us-federal:64.1200(c)(2)", body


@pytest.mark.parametrize("coding", ["x-gzip", "gzip, identity"])
def test_a_plain_body_said_to_be_x_gzip_is_still_refused(node: ServeNode,
                                                         coding: str) -> None:
    """The body is not gzip: a 400, nothing decided (never read as plain JSON)."""
    status, body = post(node, json.dumps(CHECK).encode(), {"Content-Encoding": coding})
    assert status == 400, body
    assert "not gzip" in body["error"], body


async def test_the_token_comparison_does_not_depend_on_the_length_sent(monkeypatch) -> None:
    """Every comparison is of two values of one length, whatever the client sends."""
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(http_app.hmac, "compare_digest", spy)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[http_app._auth(b"s3cret-token-of-some-length")])
    app.router.add_get("/metrics", ok)
    async with TestClient(TestServer(app)) as client:
        for sent in ("x", "s3cret-token-of-some-length", "y" * 500, ""):
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {sent}"})
            expected = 200 if sent == "s3cret-token-of-some-length" else 401
            assert response.status == expected, sent
    assert len(compared) == 4
    assert all(a == b for a, b in compared), compared


def test_every_route_the_port_serves_is_described(node: ServeNode) -> None:
    """The supervisors' routes included: the shell open, its data behind the token."""
    spec = json.loads(node.http("/openapi.json", token=None)[1])
    for path in ("/supervisor", "/supervisor/meta", "/supervisor/events",
                 "/supervisor/report"):
        assert "get" in spec["paths"].get(path, {}), path
        assert "405" in spec["paths"][path]["get"]["responses"], path
    assert spec["paths"]["/supervisor"]["get"]["security"] == []
    for path in ("/supervisor/meta", "/supervisor/events", "/supervisor/report"):
        assert "security" not in spec["paths"][path]["get"], path  # the document's bearer
        assert "401" in spec["paths"][path]["get"]["responses"], path
        assert node.http(path, token=None)[0] == 401
    assert node.http("/supervisor", token=None)[0] == 200


def test_the_container_config_names_max_at_skew() -> None:
    config = tomllib.loads((ROOT / "docker" / "callguard.toml").read_text())
    assert "max_at_skew" in config["http"]


async def test_a_long_body_is_parsed_off_the_loop(monkeypatch) -> None:
    """64 KiB of ``[{},{},...]`` held the node's one loop about 7 ms per request (a larger
    ``max_body_bytes`` in proportion); a short body is still parsed on the loop, where a
    thread would cost more than the parse. The thread is the parser's own: in the default
    executor a flood of long bodies would queue ahead of the embedded stores' writes."""
    threads: list[str] = []
    real = http_app.json.loads

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(http_app.json, "loads", watched)
    long_body = b'{"number": [' + b",".join([b"{}"] * 20_000) + b"]}"
    short_body = json.dumps(CHECK).encode()
    assert len(long_body) > http_app._PARSE_ON_LOOP_BYTES
    main = threading.current_thread().name
    assert await http_app._parsed(short_body) == CHECK
    assert threads == [main]
    with pytest.raises(http_app._RepeatedKeyError):
        await http_app._parsed(b'{"a": 1, "a": 2' + b" " * 20_000 + b"}")
    parsed = await http_app._parsed(long_body)
    assert parsed == {"number": [{}] * 20_000}
    assert len(threads) == 3, threads
    # the parser's own thread, not the default executor's the embedded stores write with
    assert all(name.startswith("callguard-json") for name in threads[1:]), threads
