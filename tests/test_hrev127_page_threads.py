"""Review hrev127 of hlog25: a closed supervisor page leaves no polling thread and no
open log file behind.

The page's file feed runs ``tail_file`` in a thread of its own; the page, when closed,
ended it by closing the handle it had opened. After a rotation the follow holds another
handle (the new current file, opened by ``follow_file``): closing the first one no longer
ended it, and a page whose filter matched nothing new (a campaign that ended, a rare
rule) left its thread polling, and the new file open, for as long as the node ran — one
more per page closed. Through the page itself: a real aiohttp server on a real socket,
the real writer (``LogFile``) rotating; the open files counted in /proc/self/fd.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from callguard.compliance.segments import closed_segments
from callguard.compliance.sinks import LogFile
from tests.page_server import file_page, served


def _decision(n: int, campaign: str = "ut-solar-manual") -> bytes:
    return orjson.dumps({
        "schema": 2, "event": "decision", "logged_at": f"2026-12-07T05:00:00.{n:03d}Z",
        "node": "n1", "decision_id": f"0193a000-0000-7000-8000-{n:012d}",
        "verdict": "BLOCK", "campaign": campaign, "number_last4": "0123",
        "reason": "on list 'national' v40", "latency_us": 528}) + b"\n"


def _tails() -> int:
    return sum(t.name == "supervisor-tail" and t.is_alive() for t in threading.enumerate())


def _open_logs(directory: Path) -> int:
    """Descriptors of this process open on a file under ``directory``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory)):
                count += 1
    return count


@contextlib.asynccontextmanager
async def _server(log: Path) -> AsyncIterator[str]:
    async with served(file_page(log)) as port:
        yield f"http://127.0.0.1:{port}/supervisor/events"


async def _until(condition, timeout: float = 6.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_a_page_closed_after_a_rotation_leaves_no_thread_and_no_file(tmp_path):
    """A page follows a campaign that calls no more; the writer rotates (the follow now
    holds the new current file); the page is closed. Before: its thread polled on, the
    new file open (2 files per page closed here, for ever)."""
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in (1, 2, 3)))
    before = _tails()
    async with _server(log) as url, aiohttp.ClientSession() as session:
        for round_ in range(2):
            response = await session.get(f"{url}?n=5&campaign=ended-campaign")
            await response.content.readuntil(b"event: live")
            writer = LogFile(log, max_bytes=len(_decision(1)) * 3 + 1)
            try:
                for i in range(10 + 10 * round_, 18 + 10 * round_):
                    writer.commit(_decision(i), sync=False)
            finally:
                writer.close()
            await asyncio.sleep(1.0)  # the follow has seen the rotations
            response.close()
        await _until(lambda: _tails() == before and _open_logs(tmp_path) == 0)
        assert len(closed_segments(log)) >= 2
        assert _tails() == before
        assert _open_logs(tmp_path) == 0


async def test_fifty_pages_opened_and_closed_hold_nothing(tmp_path):
    """50 pages opened (each given its backlog) and closed: no thread, no file left."""
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in range(1, 200)))
    before = _tails()
    fds = len(os.listdir("/proc/self/fd"))
    async with _server(log) as url, aiohttp.ClientSession() as session:
        for _ in range(50):
            response = await session.get(f"{url}?n=20")
            await response.content.readuntil(b"event: live")
            response.close()
        await _until(lambda: _tails() == before and _open_logs(tmp_path) == 0)
        assert _tails() == before
        assert _open_logs(tmp_path) == 0
    assert len(os.listdir("/proc/self/fd")) <= fds + 2


async def test_a_page_closed_while_the_log_has_no_current_file_leaves_no_thread(tmp_path):
    """The current file renamed away and none created yet (a node stopped right after a
    rotation): the follow waits for the new file. The page closed meanwhile: its thread
    ends. Before: it waited on for a file that might never come."""
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in (1, 2, 3)))
    before = _tails()
    async with _server(log) as url, aiohttp.ClientSession() as session:
        response = await session.get(f"{url}?n=5")
        await response.content.readuntil(b"event: live")
        log.rename(tmp_path / "compliance.jsonl.old")
        await asyncio.sleep(1.0)  # the follow has seen the file go
        response.close()
        await _until(lambda: _tails() == before and _open_logs(tmp_path) == 0)
        assert _tails() == before
        assert _open_logs(tmp_path) == 0


def _rotating_at_first_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A log of records 1-3 whose writer, at the first record a reader matches (inside a
    backlog read), writes records 10-19 rotating twice (a segment every three records)."""
    from callguard.compliance.reader import RecordFilter

    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in (1, 2, 3)))
    matches = RecordFilter.matches
    written: list[bool] = []

    def hooked(self: RecordFilter, record: dict[str, object]) -> bool:
        if not written:
            written.append(True)
            writer = LogFile(log, max_bytes=len(_decision(1)) * 3 + 1)
            try:
                for i in range(10, 20):
                    writer.commit(_decision(i), sync=False)
            finally:
                writer.close()
        return matches(self, record)

    monkeypatch.setattr(RecordFilter, "matches", hooked)
    return log


async def test_rotations_while_the_backlog_is_read_lose_nothing(tmp_path, monkeypatch):
    """The writer rotates twice while the page reads its backlog (a long one: a filter
    that matches rarely, a large log): the records it wrote meanwhile are shown, once."""
    log = _rotating_at_first_match(tmp_path, monkeypatch)
    ids: list[int] = []
    async with _server(log) as url, aiohttp.ClientSession() as session:
        response = await session.get(f"{url}?n=10")
        deadline = time.monotonic() + 8
        while len(ids) < 13 and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    line = await response.content.readline()
                    if line.startswith(b"data: ") and b"decision_id" in line:
                        ids.append(int(orjson.loads(line[6:])["decision_id"][-12:]))
        await asyncio.sleep(0.3)
        response.close()
    assert len(closed_segments(log)) >= 3
    assert ids == [1, 2, 3, *range(10, 20)]


def test_tail_f_rotations_while_the_backlog_is_shown_lose_nothing(tmp_path, monkeypatch):
    """`callguard tail -f`'s mechanism (``tail_file``), the same two rotations while its
    backlog is read (printed to a slow terminal, say): every record once, in order.
    ``stop`` ends the follow once all came, or after 8 s."""
    from callguard.compliance.file_tail import tail_file
    from callguard.compliance.reader import ReadStats, RecordFilter

    log = _rotating_at_first_match(tmp_path, monkeypatch)
    ids: list[int] = []
    deadline = time.monotonic() + 8
    with log.open("rb") as handle:
        for record in tail_file(log, handle, RecordFilter(), ReadStats(), lines=10,
                                follow=True, poll=0.05,
                                stop=lambda: len(ids) >= 13 or time.monotonic() > deadline):
            ids.append(int(str(record["decision_id"])[-12:]))
    assert len(closed_segments(log)) >= 3
    assert ids == [1, 2, 3, *range(10, 20)]
