"""hrev19: host = "::" takes IPv4 dialers on every transport, whatever the host's
``net.ipv6.bindv6only`` (a host setting 1 made the UDP socket IPv6-only while the TCP
and TLS listeners were set dual-stack). This host's default is 0, so the test pins the
socket option rather than failing on the code before the change."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from callguard.config import load_settings
from callguard.fronts.sip.server import SipFront


class _NoGate:
    async def check(self, request: object, *, budget_s: float | None = None) -> object:
        raise AssertionError("the gate was asked")


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 in this Python")
async def test_the_udp_socket_on_host_any6_is_dual_stack() -> None:
    sip = replace(load_settings().sip, host="::", port=0, tcp=True)
    front = SipFront(_NoGate(), sip)  # type: ignore[arg-type]
    try:
        await front.start()
    except OSError as exc:  # pragma: no cover - a host without IPv6 sockets
        pytest.skip(f"no IPv6 socket here: {exc}")
    try:
        udp = front._udp._sock  # type: ignore[union-attr]
        assert udp.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        try:
            client.sendto(b"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
                          b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKdual\r\n"
                          b"From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"
                          b"Call-ID: dual\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                          ("127.0.0.1", front.port))
            await asyncio.sleep(0.3)  # the front answers on this loop
            assert client.recv(65536).startswith(b"SIP/2.0 200 OK")
        finally:
            client.close()
    finally:
        await front.close()
