"""A bad chunk in a request pipelined behind a slow one (hhttp18): in-process, over a
real socket, through ``GuardedSite`` as ``serve`` runs it.

hhos17 made a chunk size the parser refuses part-way a 400 at once — for the request whose
handler was running (``_RequestHandler.data_received``), and it was feared that a request
pipelined behind a slow one (its head and first chunk queued while the first is decided,
then a chunk size that is not hex) would wait for the rest of its body and get a 408
``body_timeout_ms`` later. On the pinned aiohttp (3.14.5) it does not: the parser stops
after each queued message until it is taken (``message_consumed``), so the bad chunk is
parsed only once the pipelined request is the one being handled, and the override fails
its body then. This test holds that, in both orders of arrival, against an aiohttp bump.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiohttp import web

from callguard.config import load_settings
from callguard.fronts.http.app import build_app
from callguard.fronts.http.limits import ConnectionLimits, GuardedSite, HttpLimitSettings
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.conftest import ROOT
from tests.test_fastagi import SlowRecords

TOKEN = "test-token-0123456789abcdef"
CALL = json.dumps({"number": "8015550123", "campaign": "ut-solar-manual",
                   "at": "2026-11-25T11:00:00-07:00"}).encode()
BODY_TIMEOUT_S = 4.0


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[int, SlowRecords]]:
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, listed, published=date(2026, 11, 25), area_codes=None,
                      source="t")
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, http=replace(settings.http, budget_ms=5000))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    records = SlowRecords(runtime.records)
    runtime.gate._records = records
    await runtime.start()
    limits = ConnectionLimits(HttpLimitSettings(body_timeout_ms=int(BODY_TIMEOUT_S * 1000)))
    app = build_app(gate=runtime.gate, metrics=runtime.metrics,
                    readiness=runtime.readiness(), token=TOKEN.encode(), limits=limits,
                    budget_s=5.0)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, limits)
    await site.start()
    try:
        yield site.port, records
    finally:
        await site.stop()
        await runner.cleanup()
        await runtime.aclose()


def _head(chunked: bool) -> bytes:
    framing = ("Transfer-Encoding: chunked\r\n" if chunked
               else f"Content-Length: {len(CALL)}\r\n")
    return (f"POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n").encode()


@pytest.mark.parametrize("together", [False, True], ids=["apart", "one-segment"])
async def test_a_bad_chunk_behind_a_slow_request_is_a_400_at_once(
        node: tuple[int, SlowRecords], together: bool) -> None:
    port, records = node
    records.delay = 1.0  # the first request is decided for a second
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    first = _head(chunked=False) + CALL  # A: whole, decided slowly
    queued = _head(chunked=True) + b"10\r\n" + CALL[:16] + b"\r\n"  # B: head, one chunk
    if together:  # A and B's start in one segment: parsed in one feed
        writer.write(first + queued)
        await writer.drain()
        await asyncio.sleep(0.3)
    else:
        writer.write(first)
        await writer.drain()
        await asyncio.sleep(0.3)  # A's handler is waiting on the store
        writer.write(queued)
        await writer.drain()
    await asyncio.sleep(0.2)
    sent = time.monotonic()
    writer.write(b"zz\r\n" + CALL[16:] + b"\r\n0\r\n\r\n")  # B's second chunk size: not hex
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), BODY_TIMEOUT_S + 5)
    took = time.monotonic() - sent
    writer.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"200", b"400"], answer[:600]
    assert b"chunk" in answer.rsplit(b"\r\n\r\n", 1)[1].lower(), answer[-300:]
    assert took < BODY_TIMEOUT_S - 1, took  # not the body timeout's 408


@pytest.mark.skipif(os.environ.get("AIOHTTP_NO_EXTENSIONS") == "1",
                    reason="this run is the pure-Python parser's already")
def test_the_same_with_the_pure_python_parser() -> None:
    """aiohttp's pure-Python parser (``AIOHTTP_NO_EXTENSIONS=1``, or no C extension for the
    platform) is chosen at import: the tests above, run again in a process that uses it.
    Its 400 said "(zz)", the refused line alone, not that a chunk was malformed."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "bad_chunk_behind"], env={**os.environ, "AIOHTTP_NO_EXTENSIONS": "1"},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
