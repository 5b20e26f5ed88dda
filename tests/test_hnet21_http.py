"""The HTTP front against unusual peers (network examiner 21): an IPv6 host, a body led
by a byte order mark.

The per-source connection cap against an IPv6 host:

``max_connections_per_source`` counted connections by address. An IPv6 host holds a /64
(RFC 4291 §2.5.1) and may connect from any address in it: with the defaults (256 in all,
128 per source) two of its addresses took every place, unauthenticated, and every
dialer's /v1/check was refused at connect. The SIP front already counts an IPv6 source by
its /64 (``dual_stack.source_holder``, shared); the HTTP port now does too.
"""

from __future__ import annotations

import asyncio
import codecs
import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest

from callguard.fronts.http.limits import ConnectionLimits, HttpLimitSettings, _Guarded
from tests.serve_node import AT, ServeNode, write_lists

LISTED = 8015550199


@pytest.mark.parametrize(("peer", "holder"), [
    (("2001:db8::1", 443, 0, 0), "2001:db8::/64"),
    (("2001:db8::ffff:1", 443, 0, 0), "2001:db8::/64"),
    (("2001:db8:0:1::1", 443, 0, 0), "2001:db8:0:1::/64"),
    (("::ffff:10.1.2.3", 443, 0, 0), "10.1.2.3"),  # an IPv4 peer of a dual-stack socket
    (("10.1.2.3", 443), "10.1.2.3"),
    (None, ""),
])
def test_a_connection_is_held_by_its_address_or_its_ipv6_64(peer: Any, holder: str) -> None:
    assert ConnectionLimits.holder(peer) == holder


class _Peer(asyncio.Transport):
    """An accepted connection as the protocol sees it: its peer's address, and whether
    it was closed at once."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self._peer = (address, 40000, 0, 0)
        self.aborted = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default

    def abort(self) -> None:
        self.aborted = True


class _Inner(asyncio.Protocol):
    """aiohttp's protocol, standing in: the connections the guard let through."""

    def __init__(self) -> None:
        self.made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made += 1


async def test_one_ipv6_host_cannot_take_every_place_from_several_addresses() -> None:
    """Cap 2 per source: two connections from 2001:db8::1, a third from 2001:db8::2 (the
    same host's /64) is closed at once (``refused_source_busy``); another /64 and an IPv4
    peer still get in. Before, the third was let in: the cap counted addresses."""
    limits = ConnectionLimits(HttpLimitSettings(max_connections=10,
                                                max_connections_per_source=2))
    inner = _Inner()
    peers = [_Peer(a) for a in ("2001:db8::1", "2001:db8::1", "2001:db8::2",
                                "2001:db8:0:1::1", "10.1.2.3")]
    guards = [_Guarded(limits, inner) for _ in peers]
    for guard, peer in zip(guards, peers, strict=True):
        guard.connection_made(peer)
    try:
        assert [p.aborted for p in peers] == [False, False, True, False, False]
        assert limits.counts["refused_source_busy"] == 1
        assert inner.made == 4
    finally:
        for guard, peer in zip(guards, peers, strict=True):
            if not peer.aborted:
                guard.connection_lost(None)
    assert limits.open == 0
    assert not limits.by_source


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hnet21h") / "node")
    write_lists(serve.data, [LISTED])
    serve.start()
    yield serve
    serve.stop()


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_body_led_by_a_byte_order_mark_is_decided(node: ServeNode, gzipped: bool) -> None:
    """RFC 8259 §8.1: a JSON text's sender MUST NOT add a byte order mark, and a parser
    "MAY ignore" one. A file saved as "UTF-8 with BOM" (Notepad's UTF-8 before Windows 10
    1903, PowerShell 5's ``Out-File -Encoding utf8``) and posted as the body was a 400
    "the body is not JSON (UTF-8)" — which it is — and the dialer's call was not placed.
    The one leading BOM is now ignored: the listed number is BLOCKed and recorded as any
    other body's; a BOM anywhere else is still no JSON."""
    body = codecs.BOM_UTF8 + json.dumps({"number": str(LISTED), "campaign": "ut-solar-manual",
                                         "at": AT}).encode()
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    status, text = node.http("/v1/check", raw=gzip.compress(body) if gzipped else body,
                             headers=headers)
    assert status == 200, text
    answer = json.loads(text)
    assert answer["verdict"] == "BLOCK"
    assert answer["rule"] == "us-federal:64.1200(c)(2)"
    twice = codecs.BOM_UTF8 + body
    assert node.http("/v1/check", raw=twice)[0] == 400
