"""The supervisor page's live feed from the log file (hlog25): what `tail -f` was given in
session 27 (hlog24, hrev117: ``follow_start``, a heal seen by a whole-fragment compare)
the page's ``FileTail`` did not have. It took the file's end, read its backlog, and then
followed from that end, looking back for the last line's start only then:

- a record mid-write when the page opened (its line without its newline yet) was in
  neither: the backlog read it as torn, the follow began after its first bytes and read
  the rest as a torn line;
- a heal (a node restarting cuts a torn tail and writes on) while the backlog was read,
  or while the page followed a torn fragment, was passed over: the records the writer
  wrote in the fragment's place were never shown.

Now the page and `tail -f` take one start and one follow (``compliance.file_tail``).
Through the page itself: a real aiohttp server on a real socket, the page's own
``/supervisor/events`` read as a browser's EventSource reads it; real files, and the real
writer (``LogFile``) heals, appends and rotates. A record finished by the writer's second
``write(2)`` (a short write) is written here by hand, as hrev117's test writes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest

from callguard.compliance.reader import RecordFilter
from callguard.compliance.segments import LONG_LINE, closed_segments
from callguard.compliance.sinks import LogFile
from tests.page_server import file_page, served


def _decision(n: int) -> bytes:
    """A decision as the writer encodes one; every decision of the test has one layout."""
    return orjson.dumps({
        "schema": 2, "event": "decision", "logged_at": f"2026-12-07T05:00:00.{n:03d}Z",
        "node": "n1", "decision_id": f"0193a000-0000-7000-8000-{n:012d}",
        "verdict": "BLOCK", "campaign": "ut-solar-manual", "number_last4": "0123",
        "reason": "on list 'national' v40",
        "packs": [["us-federal", "2026.11.0", "5d1c09e2", "ppbpp-p"],
                  ["us-ut", "2026.11.0", "a4b1f37c", "pp-pp"]],
        "latency_us": 528}) + b"\n"


class _Feed:
    """The page's event stream, read as EventSource reads it: every ``record`` event's
    decision (the number its id ends in), in the order sent."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.ids: list[int] = []
        self.other: list[tuple[str, bytes]] = []
        self.live = False
        self._task = asyncio.create_task(self._read(response))

    async def _read(self, response: aiohttp.ClientResponse) -> None:
        event = "message"
        while line := await response.content.readline():
            line = line.rstrip(b"\n")
            if line.startswith(b"event: "):
                event = line[7:].decode()
            elif line.startswith(b"data: "):
                if event == "record":
                    self.ids.append(int(orjson.loads(line[6:])["decision_id"][-12:]))
                elif event == "live":
                    self.live = True
                else:
                    self.other.append((event, line[6:]))
            elif not line:
                event = "message"

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return  # the assertion after says what was shown
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def _page(log: Path, n: int) -> AsyncIterator[_Feed]:
    async with served(file_page(log)) as port:
        session = aiohttp.ClientSession()
        response = await session.get(f"http://127.0.0.1:{port}/supervisor/events?n={n}")
        feed = _Feed(response)
        try:
            yield feed
        finally:
            await feed.close()
            response.close()
            await session.close()


def _heal_writing(log: Path, numbers: range) -> None:
    """A node (re)starting on the file: its writer cuts a torn tail, then appends."""
    writer = LogFile(log, max_bytes=1 << 30)
    try:
        for n in numbers:
            writer.commit(_decision(n), sync=True)
    finally:
        writer.close()


async def test_a_record_mid_write_when_the_page_opens_is_shown_once(tmp_path):
    """The page opens while decision 4 is half written (the writer's first write(2) was
    short: the rest follows in a second). Before: 4 was neither in the backlog nor in the
    follow (shown: 1, 2, 3, 5)."""
    log = tmp_path / "compliance.jsonl"
    fourth = _decision(4)
    log.write_bytes(b"".join(_decision(n) for n in (1, 2, 3)) + fourth[:150])
    async with _page(log, 10) as feed:
        await feed.until(lambda: len(feed.ids) >= 3)
        assert feed.ids == [1, 2, 3]
        await asyncio.sleep(0.6)  # the follow is polling the unfinished line
        with log.open("ab") as writer:  # the rest of the same write, then the next one
            writer.write(fourth[150:])
            writer.flush()
            writer.write(_decision(5))
        await feed.until(lambda: len(feed.ids) >= 5)
        await asyncio.sleep(0.5)  # nothing more comes
        assert feed.ids == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("n", [2, 10], ids=["n-2", "n-10"])
@pytest.mark.parametrize("torn", [b"\0" * (1 << 20), b"\0" * (LONG_LINE + (1 << 20)),
                                  b'{"schema":2,"event":"decis'],
                         ids=["nul-1MiB", "nul-past-long-line", "short-torn"])
async def test_a_heal_while_the_backlog_is_read_is_followed(tmp_path, monkeypatch, n, torn):
    """The node restarts (its writer heals the torn tail and writes 10 and 11) while the
    page reads its backlog: the heal is made from the backlog's first matching record.
    Before: 10 and 11 were passed over (or 11 alone shown, or the backlog's last record
    shown twice), as `tail -f` did before hlog24."""
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in (1, 2, 3)) + torn)
    matches = RecordFilter.matches
    healed: list[bool] = []

    def hooked(self: RecordFilter, record: dict[str, object]) -> bool:
        if not healed:
            healed.append(True)
            _heal_writing(log, range(10, 12))
        return matches(self, record)

    monkeypatch.setattr(RecordFilter, "matches", hooked)
    async with _page(log, n) as feed:
        await feed.until(lambda: 11 in feed.ids)
        await asyncio.sleep(0.5)
    backlog = [2, 3] if n == 2 else [1, 2, 3]
    assert healed
    assert feed.ids == [*backlog, 10, 11]
    assert log.read_bytes() == b"".join(_decision(i) for i in (1, 2, 3, 10, 11))


def _same_tail_pair() -> tuple[bytes, bytes, int]:
    """Decisions A and B, and a cut of A past which A's last 64 bytes are B's (hrev117)."""
    a, b = _decision(100), _decision(600)
    cut = a.index(b'"pp-pp"')
    assert len(a) == len(b)
    assert a[cut - 64:cut] == b[cut - 64:cut]
    return a, b, cut


@pytest.mark.parametrize("fragment", ["garbage", "same-last-bytes"])
async def test_a_torn_last_line_healed_while_the_page_follows(tmp_path, fragment):
    """The page opens on a torn last line (a writer killed mid-write: garbage, or a
    fragment of A whose last bytes are those B will have at the same place); the node
    restarts, heals it and writes B. The page shows B once and never the fragment as a
    record. Before: the follow began past the fragment and read B's last bytes as a torn
    line: B lost."""
    log = tmp_path / "compliance.jsonl"
    a, b, cut = _same_tail_pair()
    tail = b"\x00\x07garbage{" if fragment == "garbage" else a[:cut]
    log.write_bytes(_decision(1) + tail)
    async with _page(log, 10) as feed:
        await feed.until(lambda: len(feed.ids) >= 1)
        await asyncio.sleep(0.6)  # the follow holds the fragment
        _heal_writing(log, range(600, 601))
        await feed.until(lambda: len(feed.ids) >= 2)
        await asyncio.sleep(0.5)
    assert feed.ids == [1, 600]
    assert log.read_bytes() == _decision(1) + b


async def test_rotations_while_the_page_is_open_lose_and_repeat_nothing(tmp_path):
    """The writer rotates several times while the page follows (the current file renamed
    into a segment, a new one created; some within one poll): every record once."""
    log = tmp_path / "compliance.jsonl"
    log.write_bytes(b"".join(_decision(i) for i in (1, 2, 3)))
    size = len(_decision(1))
    async with _page(log, 10) as feed:
        await feed.until(lambda: len(feed.ids) >= 3)
        writer = LogFile(log, max_bytes=size * 5 + 1)  # a rotation every few records
        try:
            for i in range(4, 40):
                writer.commit(_decision(i), sync=False)
                if i % 7 == 0:
                    await asyncio.sleep(0.3)  # some rotations seen one at a time
        finally:
            writer.close()
        await feed.until(lambda: len(feed.ids) >= 39)
        await asyncio.sleep(0.5)
    assert len(closed_segments(log)) >= 5
    assert feed.ids == list(range(1, 40))


class _Seen(Exception):
    """The last record came: the follow is stopped here."""


def test_tail_f_takes_the_same_start_for_a_record_mid_write(tmp_path):
    """`callguard tail -f` on the file the page test opens on (decision 4 half written):
    one mechanism, one answer (this passed before hlog25: `tail -f` had it since hlog24)."""
    import signal
    import threading
    from types import SimpleNamespace

    from callguard.cli.logs import _tail_file
    from callguard.compliance.reader import ReadStats

    log = tmp_path / "compliance.jsonl"
    fourth = _decision(4)
    log.write_bytes(b"".join(_decision(n) for n in (1, 2, 3)) + fourth[:150])
    seen: list[int] = []

    def show(record: dict[str, object]) -> None:
        seen.append(int(str(record["decision_id"])[-12:]))
        if seen[-1] == 5:
            raise _Seen

    def finish() -> None:
        with log.open("ab") as writer:
            writer.write(fourth[150:])
            writer.flush()
            writer.write(_decision(5))

    def waited(signum: int, frame: object) -> None:
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, waited)
    signal.setitimer(signal.ITIMER_REAL, 8.0)
    timer = threading.Timer(0.6, finish)
    timer.start()
    stats = ReadStats()
    try:
        with pytest.raises((_Seen, TimeoutError)):
            _tail_file(SimpleNamespace(filter=RecordFilter(), stats=stats),  # type: ignore[arg-type]
                       log, show, True, 2)
    finally:
        timer.join()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert seen == [2, 3, 4, 5]
    assert stats.torn == 0
