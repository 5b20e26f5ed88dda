"""An operational log that cannot be written (stderr on a full disk: ENOSPC) must not
cost a dialer its answer (hhos15).

The fronts' last resort — a bug or a failing store behind the front — logged first and
answered after. With stderr on a full disk (``serve 2>>/var/lib/callguard/serve.log`` on
the data disk, which is full exactly when records fail), the log line raised inside the
``except``: the SIP front sent no answer at all (the dialer waited out Timer B, 32 s, on
every INVITE) and the HTTP front answered aiohttp's text/plain 500 "Server got itself in
trouble" instead of its JSON error. Here stderr is ``/dev/full`` (every write ENOSPC),
the sockets real, the gate one that fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
import structlog
from aiohttp import web

from callguard.fronts.http.app import build_app
from callguard.fronts.sip.server import SipFront, SipSettings
from tests.redis_server import free_port


class _FailingGate:
    """A gate whose check fails (as the real one does when its log raises)."""

    async def check(self, request: Any, *, budget_s: float | None = None) -> Any:
        raise OSError(28, "No space left on device")


@contextlib.contextmanager
def stderr_full() -> Iterator[None]:
    """structlog writing to /dev/full, as to a stderr file on a full disk (from the first
    request on: a node starts with its disk not yet full)."""
    saved = structlog.get_config()
    with open("/dev/full", "wb", buffering=0) as full:
        render = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        structlog.configure(processors=[render],
                            logger_factory=structlog.BytesLoggerFactory(file=full),
                            cache_logger_on_first_use=False)
        with pytest.raises(OSError, match="No space left"):  # the premise: a log line raises ENOSPC
            structlog.get_logger("probe").error("probe")
        try:
            yield
        finally:
            structlog.configure(**saved)


async def test_sip_answers_500_though_its_log_line_cannot_be_written() -> None:
    front = SipFront(_FailingGate(), SipSettings(port=0, tcp=False, t1_ms=50))
    await front.start()
    try:
        with stderr_full(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            port = sock.getsockname()[1]
            sock.sendto((
                "INVITE sip:8015550123@127.0.0.1 SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bKfull1\r\n"
                "From: <sip:d@127.0.0.1>;tag=1\r\nTo: <sip:8015550123@127.0.0.1>\r\n"
                "Call-ID: full1\r\nCSeq: 1 INVITE\r\nX-Callguard-Campaign: c\r\n"
                "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", front.port))
            loop = asyncio.get_running_loop()
            answer = await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)
        assert answer.startswith(b"SIP/2.0 500 "), answer
        assert front.stats.counts["internal_error"] == 1
    finally:
        await front.close()


async def test_http_answers_its_json_500_though_its_log_line_cannot_be_written() -> None:
    app = build_app(gate=_FailingGate(), metrics=None, readiness=None,  # type: ignore[arg-type]
                    token=b"t" * 24)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with stderr_full():
            await _ask(port)
    finally:
        await runner.cleanup()


async def _ask(port: int) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/v1/check",
            json={"number": "8015550123", "campaign": "c"},
            headers={"Authorization": f"Bearer {'t' * 24}"}) as response:
        assert response.status == 500
        assert response.content_type == "application/json"
        assert (await response.json()) == {"error": "internal error"}


def test_configured_logging_drops_and_counts_a_line_it_cannot_write(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The node's own logging (``configure_logging``) on a stderr that is a full disk: the
    line is dropped and counted (``callguard_log_lines_dropped`` on /metrics), never raised
    into the call's path — where the gate's own warnings (a failed record, a store error)
    would turn a recorded BLOCK into a front's 500 (lead, from hhos15's finding)."""
    import io
    import sys

    from callguard.audit import SparingBytesLogger, configure_logging
    from callguard.fronts.http.metrics import NodeMetrics
    from callguard.stores.embedded.lists import EmbeddedListRegistry

    saved = structlog.get_config()
    with open("/dev/full", "wb") as full:
        monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(full))
        try:
            configure_logging(b"k" * 32)
            before = SparingBytesLogger.dropped
            for _ in range(3):  # past the buffer's first failed flush too
                structlog.get_logger("probe").error("record_failed", error="x" * 9000)
            assert SparingBytesLogger.dropped == before + 3
        finally:
            structlog.configure(**saved)
    exported = NodeMetrics(EmbeddedListRegistry(tmp_path)).registry.get_sample_value(
        "callguard_log_lines_dropped")
    assert exported == SparingBytesLogger.dropped
