"""``host = "::"`` takes IPv4 peers on every front, and allowlists written for IPv4 hold them.

asyncio's ``start_server``/``create_server`` set ``IPV6_V6ONLY`` on an IPv6 host: the HTTP
port and FastAGI on ``"::"`` refused every IPv4 client while SIP (and the README) said
dual-stack (operator examiner 18). Through a dual-stack socket an IPv4 peer shows as
``::ffff:127.0.0.1``; ``allowed_sources = ["127.0.0.1/32"]`` must still let it in. Real
sockets, connecting over IPv4 to the ``"::"`` listener."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest
from aiohttp import web

from callguard.config import load_settings
from callguard.fronts.dual_stack import plain_network, source_allowed
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.fronts.http.app import build_app
from callguard.fronts.http.limits import ConnectionLimits, GuardedSite, HttpLimitSettings
from callguard.runtime import open_runtime
from tests.fake_asterisk import agi_session


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _ipv6_available(), reason="no IPv6 on this host")


def test_an_ipv4_peer_through_a_dual_stack_socket_is_read_plainly() -> None:
    networks = [plain_network("10.1.2.0/24"), plain_network("2001:db8::/64")]
    assert source_allowed(networks, "::ffff:10.1.2.3")
    assert source_allowed(networks, "10.1.2.3")
    assert source_allowed(networks, "2001:db8::7")
    assert not source_allowed(networks, "::ffff:10.1.3.3")
    assert not source_allowed(networks, "not an address")


@needs_ipv6
async def test_fastagi_on_all_addresses_answers_an_ipv4_asterisk(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, host="::", port=0,
                                                 allowed_sources=("127.0.0.1/32",)))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    try:
        result = await agi_session(server.port, c.ROUTE_CHECK, ["8015550123", "ut-x"])
    finally:
        await server.close()
        await runtime.aclose()
    assert result.commands, "the IPv4 session got no answer"
    assert server.stats.counts["refused_source"] == 0


@needs_ipv6
async def test_the_http_port_on_all_addresses_answers_an_ipv4_client(tmp_path) -> None:
    runtime = open_runtime(load_settings(data_dir=tmp_path))
    limits = ConnectionLimits(HttpLimitSettings(allowed_sources=("127.0.0.1/32",)))
    app = build_app(gate=runtime.gate, metrics=runtime.metrics,
                    readiness=runtime.readiness(), token=b"t" * 32, limits=limits,
                    budget_s=5.0)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "::", 0, limits)
    await site.start()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", site.port), 5)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
    finally:
        await site.stop()
        await runner.cleanup()
        await runtime.aclose()
    assert status.startswith(b"HTTP/1.1 200"), status
