"""Hostile HTTP clients of a real `callguard serve` (hhttp18): encoded bodies.

aiohttp's ``DeflateBuffer`` checks that a deflate stream reached its end, not that a gzip
one did: a gzip body cut before its CRC-32/ISIZE trailer (RFC 1952 2.3.1) was inflated to
the JSON it held and decided, as was one with bytes after its end. The port now undoes
content codings itself (``fronts/http/coding.py``), within the same limits.
"""

from __future__ import annotations

import gzip
import json
import socket
import zlib
from collections.abc import Iterator

import pytest

from tests.serve_node import AT, TOKEN, ServeNode, write_lists

CHECK = {"number": "8015550123", "campaign": "ut-solar-manual", "at": AT}
BODY = json.dumps(CHECK).encode()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("http18") / "node")
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def post(node: ServeNode, body: bytes, headers: dict[str, str] | None = None,
         path: str = "/v1/check") -> tuple[int, dict[str, str], dict[str, object]]:
    """One request on a raw socket; (status, headers, JSON body)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n")
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    lines, _, payload = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = lines.decode("latin-1").split("\r\n")
    got = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), got, json.loads(payload)


GZ = gzip.compress(BODY)


@pytest.mark.parametrize("cut", [8, 4, 1], ids=["no-trailer", "no-isize", "last-byte"])
def test_a_gzip_body_cut_before_its_trailer_is_a_400(node: ServeNode, cut: int) -> None:
    """The deflate data is whole, the CRC/ISIZE trailer (8 bytes) is not: it was decided."""
    status, _, body = post(node, GZ[:-cut], {"Content-Encoding": "gzip"})
    assert status == 400, body
    assert "cut short" in str(body["error"]), body
    assert node.events("http_internal_error") == []


def test_a_deflate_body_cut_short_is_still_a_400(node: ServeNode) -> None:
    status, _, body = post(node, zlib.compress(BODY)[:-4], {"Content-Encoding": "deflate"})
    assert status == 400, body


def test_bytes_after_the_gzip_end_are_a_400(node: ServeNode) -> None:
    """A whole member, then something that is not one: the body says two things."""
    status, _, body = post(node, GZ + b'{"number": "8015550199"}',
                           {"Content-Encoding": "gzip"})
    assert status == 400, body
    assert "555" not in str(body["error"]), body


def test_a_wrong_crc_is_a_400(node: ServeNode) -> None:
    broken = GZ[:-8] + bytes([GZ[-8] ^ 0xFF]) + GZ[-7:]
    status, _, body = post(node, broken, {"Content-Encoding": "gzip"})
    assert status == 400, body


def test_whole_gzip_members_and_deflate_forms_are_still_decided(node: ServeNode) -> None:
    half = len(BODY) // 2
    two_members = gzip.compress(BODY[:half]) + gzip.compress(BODY[half:])
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bare = raw.compress(BODY) + raw.flush()
    for coding, sent in (("gzip", GZ), ("gzip", two_members), ("GZIP", GZ),
                         ("deflate", zlib.compress(BODY)), ("deflate", bare),
                         ("identity", BODY)):
        status, _, body = post(node, sent, {"Content-Encoding": coding})
        assert (status, body.get("verdict")) == (200, "ALLOW"), (coding, body)


def test_a_body_inflating_past_max_body_bytes_is_a_413(node: ServeNode) -> None:
    """Small on the wire, past ``max_body_bytes`` (64 KiB) inflated: a 413 as a plain body
    that large, only 64 KiB + 1 inflated to know it."""
    padded = json.dumps({**CHECK, "reference": "x" * 100}).encode()
    bomb = gzip.compress(padded[:-1] + b" " * 200_000 + b"}")
    assert len(bomb) < 65_536
    before = node.metric("callguard_http_events_total", '{event="body_too_large"}')
    status, _, body = post(node, bomb, {"Content-Encoding": "gzip"})
    assert status == 413, body
    assert node.metric("callguard_http_events_total", '{event="body_too_large"}') == before + 1


@pytest.mark.parametrize("coding", ["br", "zstd", "x-compress"])
def test_codings_not_decoded_here_are_a_415(node: ServeNode, coding: str) -> None:
    status, headers, body = post(node, BODY, {"Content-Encoding": coding})
    assert status == 415, body
    assert headers.get("accept-encoding") == "gzip, deflate"


def test_every_refusal_the_port_answers_is_in_the_description(node: ServeNode) -> None:
    """The statuses the POST endpoints answer, as the node answers them, each described
    in /openapi.json: a 501 (``gzip, chunked``) was not."""
    spec = json.loads(node.http("/openapi.json", token=None)[1])
    chunked = (f"POST {{path}} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n"
               "Connection: close\r\n\r\n0\r\n\r\n")
    for path in ("/v1/check", "/v1/opt-out"):
        answered = {post(node, GZ[:-8], {"Content-Encoding": "gzip"}, path)[0],
                    post(node, BODY, {"Content-Encoding": "br"}, path)[0],
                    post(node, gzip.compress(b" " * 70_000), {"Content-Encoding": "gzip"},
                         path)[0]}
        with socket.create_connection(("127.0.0.1", node.http_port), timeout=10) as sock:
            sock.sendall(chunked.format(path=path).encode())
            answered.add(int(sock.recv(65536).split()[1]))
        assert answered == {400, 415, 413, 501}, answered
        described = set(spec["paths"][path]["post"]["responses"])
        assert {str(s) for s in answered} <= described, (path, answered, described)


def test_readyz_finds_libc_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """/readyz is open to any peer, and its clock check ran ``ctypes.util.find_library``
    each time: ``ldconfig -p`` in a subprocess, about 3 ms of the loop and a fork per
    request. libc is found once now (a few microseconds a check)."""
    import ctypes.util

    from callguard.fronts.http import readiness

    cached = getattr(readiness, "_libc", None)
    if cached is not None:
        cached.cache_clear()
    calls = []
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: calls.append(name) or real(name))
    for _ in range(3):
        readiness.adjtimex_synchronised()
    assert len(calls) <= 1, calls


def test_a_body_of_many_empty_gzip_members_is_a_400(node: ServeNode) -> None:
    """64 KiB of empty members (3,276 of them) inflate to nothing at ~10 ms of the loop
    each body; a client sends one member, at most a few."""
    empty = gzip.compress(b"")
    status, _, body = post(node, empty * 3000 + GZ, {"Content-Encoding": "gzip"})
    assert status == 400, body
    assert "members" in str(body["error"]), body
    status, _, body = post(node, empty * 15 + GZ, {"Content-Encoding": "gzip"})
    assert (status, body.get("verdict")) == (200, "ALLOW"), body
