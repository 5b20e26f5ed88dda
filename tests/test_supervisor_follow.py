"""The supervisors' live tail against a page that stops reading (a laptop put to sleep
with its connection still up): in-process, over a real socket and a real log file."""

from __future__ import annotations

import asyncio
import json
import socket
import time

from aiohttp import web

from callguard.fronts.http import supervisor
from callguard.fronts.http.supervisor import FileTail, SupervisorPage

RECORD = {"schema": 1, "event": "decision", "logged_at": "2026-11-25T18:00:00.000Z",
          "node": "n1", "verdict": "BLOCK", "campaign": "ut-solar-manual",
          "rule": "callguard:number-not-dialable", "number_last4": "0123",
          "reason": "x" * 300}


async def test_a_page_that_stops_reading_lets_go_of_its_place_and_its_records(
        tmp_path, monkeypatch):
    """Each record went from the tail into an unbounded queue, and ``response.write``
    waited for the page for ever: a page that stopped reading held one of the
    MAX_TAILS places for good while every record the node wrote piled up in memory. A
    write that cannot go out within ``_WRITE_S`` ends the follow; the queue is bounded."""
    monkeypatch.setattr(supervisor, "_WRITE_S", 0.5)
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"")
    page = SupervisorPage(FileTail(log), campaigns=["ut-solar-manual"], node="n1",
                          report_records=None, archive_dir=None)  # type: ignore[arg-type]
    app = web.Application()
    page.register(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, b"GET /supervisor/events?n=0 HTTP/1.1\r\n"
                                      b"Host: x\r\n\r\n")
        await _until(lambda: page._tails == 1)
        line = json.dumps(RECORD).encode() + b"\n"
        deadline = time.monotonic() + 10
        with log.open("ab") as out:  # the page reads nothing from here on
            while page._tails and time.monotonic() < deadline:
                out.write(line * 2000)
                out.flush()
                await asyncio.sleep(0.05)
        assert page._tails == 0  # its place is free again
    finally:
        sock.close()
        await runner.cleanup()


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
