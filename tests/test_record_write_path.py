"""The record's write path on real files: the event loop appends under a non-blocking flock
and the writer thread only syncs (``group``), or nothing at all (``none``); a contended lock
sends the line to the thread; several processes append to one file and lose nothing.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import itertools
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from callguard.compliance import sinks
from callguard.compliance.sinks import LogFile, lock_path
from callguard.compliance.writer import _SYNC, RecordWriteError, RecordWriter, _Linger
from tests.conftest import ROOT
from tests.log_files import hold_log_lock


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


async def test_none_appends_on_the_loop_without_the_thread(tmp_path):
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="none")
    for i in range(20):
        await writer.write(b'{"i":%d}\n' % i)
    assert writer._thread is None
    assert (writer.on_loop, writer.written) == (20, 20)
    assert [r["i"] for r in _lines(path)] == list(range(20))
    await writer.aclose()


async def test_none_a_line_is_in_the_file_and_its_views_when_write_returns(tmp_path):
    """``none`` appends each line as it is written (no turn of the loop in between), feeds
    the views after the append, and a line posted earlier in the same turn keeps its
    place before it."""
    path = tmp_path / "compliance.jsonl"
    seen: list[bytes] = []
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="none",
                          views=[seen.append])
    turns: list[int] = []
    for i in range(3):
        line = b'{"i":%d}\n' % i
        asyncio.get_running_loop().call_soon(turns.append, i)
        await writer.write(line)
        assert not turns  # written without giving the loop a turn
        assert path.read_bytes().endswith(line)
        assert seen[-1] == line
        await asyncio.sleep(0)
        turns.clear()
    writer.post(b'{"i":3}\n')  # gathered for the end of this turn ...
    await writer.write(b'{"i":4}\n')  # ... so this one waits for it, then follows it
    await writer.aclose()
    assert [r["i"] for r in _lines(path)] == [0, 1, 2, 3, 4]
    assert seen == [b'{"i":%d}\n' % i for i in range(5)]
    assert (writer.on_loop, writer.written) == (5, 5)


async def test_group_answers_after_one_fdatasync_covering_the_batch(tmp_path, monkeypatch):
    """Sixty answers at once: every line is appended on the loop, the thread syncs them in
    one or two fdatasyncs, and no answer comes before the fdatasync covering its line."""
    path = tmp_path / "compliance.jsonl"
    synced_sizes: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        time.sleep(0.02)  # a slow disk: lines arrive meanwhile
        real(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(sinks.os, "fdatasync", fdatasync)
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group")
    answered: list[int] = []

    async def one(i: int) -> None:
        line = b'{"i":%3d}\n' % i
        await writer.write(line)
        answered.append(i)
        # answered only once a sync covered it: its end is within the synced size
        assert synced_sizes
        assert synced_sizes[-1] >= (i + 1) * len(line)

    await asyncio.gather(*(one(i) for i in range(60)))
    await writer.aclose()
    assert sorted(answered) == list(range(60))
    assert writer.on_loop == 60
    assert len(synced_sizes) <= 3  # group commit: the lines share their fdatasyncs
    assert sorted(r["i"] for r in _lines(path)) == list(range(60))


async def test_group_failed_fdatasync_cuts_the_hold_and_blocks_its_answers(tmp_path,
                                                                           monkeypatch):
    """A disk that fails fdatasync (EIO injected: a real one cannot be made here): no line of
    the hold stays in the file, every waiting answer gets RecordWriteError, and the next
    record is written once the disk works again."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group")
    await writer.write(b'{"i":0}\n')
    real = os.fdatasync

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sinks.os, "fdatasync", broken)
    results = await asyncio.gather(*(writer.write(b'{"i":%d}\n' % i) for i in range(1, 6)),
                                   return_exceptions=True)
    assert all(isinstance(r, RecordWriteError) for r in results)
    assert [r["i"] for r in _lines(path)] == [0]
    monkeypatch.setattr(sinks.os, "fdatasync", real)
    await writer.write(b'{"i":6}\n')
    await writer.aclose()
    assert [r["i"] for r in _lines(path)] == [0, 6]
    assert writer.failed == 5


async def test_group_a_lingered_hold_whose_fdatasync_fails_is_cut_whole(tmp_path, monkeypatch):
    """The writer lingers (lines joined its last holds), lines join the hold meanwhile, and
    the fdatasync fails: none of them stays, every answer is RecordWriteError."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group", linger_s=0.05)
    await writer.write(b'{"i":0}\n')

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sinks.os, "fdatasync", broken)
    writer._linger.joined = 1.0

    async def later(i: int) -> None:  # joins the hold while the writer lingers
        await asyncio.sleep(0.005 * i)
        await writer.write(b'{"i":%d}\n' % i)

    results = await asyncio.gather(*(later(i) for i in range(1, 6)), return_exceptions=True)
    assert all(isinstance(r, RecordWriteError) for r in results), results
    assert writer.batches <= 4  # shared (without the linger: 6, one hold per line)
    assert [r["i"] for r in _lines(path)] == [0]
    await writer.aclose()


@pytest.mark.parametrize("durability", ["none", "group"])
async def test_a_lock_held_elsewhere_sends_the_line_to_the_thread(tmp_path, durability):
    """Another process holds the lock: the loop does not wait, the thread does."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability=durability)
    holder = hold_log_lock(path, 0.3)
    started = time.perf_counter()
    await writer.write(b'{"i":1}\n')
    waited = time.perf_counter() - started
    holder.wait(5)
    await writer.aclose()
    assert waited >= 0.15  # the answer waited for the lock (in the thread) ...
    assert writer.on_loop == 0  # ... since the loop never got it
    assert [r["i"] for r in _lines(path)] == [1]


def test_the_thread_path_while_the_loop_holds_keeps_the_lock(tmp_path):
    """A line the thread writes during the loop's hold must not release the hold's lock."""
    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=1 << 20)
    assert log.try_append(b'{"i":1}\n', hold=True, waiter="a") is True
    log.commit(b'{"i":2}\n', sync=True)  # the thread's own batch, same process
    probe = os.open(lock_path(path), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # still ours
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert log.sync_held() == (["a"], None)
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the sync
    finally:
        os.close(probe)
        log.close()


def test_sync_held_runs_between_before_its_second_fdatasync_lines_still_joining(
        tmp_path, monkeypatch):
    """A line came during the first fdatasync: ``between`` runs (the writer lingers there)
    while the loop may still join the hold; the second fdatasync covers every line, and a
    line that comes during it is refused (the lock is free after it). No line: one
    fdatasync, no ``between``."""
    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=1 << 20)
    real = os.fdatasync
    covered: list[int] = []  # lines appended when each fdatasync ran
    refused: list[object] = []

    def fdatasync(fd: int) -> None:
        real(fd)
        covered.append(log.appended)
        if len(covered) == 1:
            assert log.try_append(b'{"i":2}\n', hold=True, waiter="b") is False
        elif len(covered) == 2:
            refused.append(log.try_append(b'{"i":9}\n', hold=True, waiter="z"))

    monkeypatch.setattr(sinks.os, "fdatasync", fdatasync)
    betweens: list[int] = []

    def between() -> None:
        betweens.append(log.appended)
        assert log.try_append(b'{"i":3}\n', hold=True, waiter="c") is False  # joins

    try:
        assert log.try_append(b'{"i":1}\n', hold=True, waiter="a") is True
        assert log.sync_held(between) == (["a", "b", "c"], None)
        assert (covered, betweens, refused) == ([1, 3], [2], [None])
        assert log.try_append(b'{"i":4}\n', hold=True, waiter="d") is True  # lock free
        assert log.sync_held(between) == (["d"], None)
        assert (covered, betweens) == ([1, 3, 4], [2])
        assert [r["i"] for r in _lines(path)] == [1, 2, 3, 4]
    finally:
        log.close()


def test_a_failed_second_fdatasync_cuts_the_whole_hold(tmp_path, monkeypatch):
    """The second fdatasync (after ``between``) fails: every line of the hold is cut, the
    ones the first fdatasync covered too (none was answered), and the error returned."""
    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=1 << 20)
    log.commit(b'{"i":0}\n', sync=True)
    real = os.fdatasync
    calls: list[int] = []

    def fdatasync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(fd)
        assert log.try_append(b'{"i":2}\n', hold=True, waiter="b") is False

    monkeypatch.setattr(sinks.os, "fdatasync", fdatasync)
    try:
        assert log.try_append(b'{"i":1}\n', hold=True, waiter="a") is True
        waiters, error = log.sync_held(
            lambda: log.try_append(b'{"i":3}\n', hold=True, waiter="c"))
        assert waiters == ["a", "b", "c"]
        assert isinstance(error, OSError)
        assert error.errno == errno.EIO
        assert len(calls) == 2
        assert [r["i"] for r in _lines(path)] == [0]
    finally:
        log.close()


def _count_commits(monkeypatch) -> list[int]:
    commits: list[int] = []
    commit = LogFile.commit

    def counted(self: LogFile, data: bytes, *, sync: bool) -> None:
        commits.append(data.count(b"\n"))
        commit(self, data, sync=sync)

    monkeypatch.setattr(LogFile, "commit", counted)
    return commits


async def test_group_lines_handed_to_the_thread_are_a_hold_the_loop_joins(tmp_path,
                                                                         monkeypatch):
    """``group``: lines that reach the writer thread (here posted from a plain thread) are
    appended as a hold, not committed on their own, and the loop's lines share its
    fdatasync; each is answered only once synced, and the lock is free afterwards."""
    path = tmp_path / "compliance.jsonl"
    commits = _count_commits(monkeypatch)
    syncs: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        real(fd)
        syncs.append(fd)

    monkeypatch.setattr(sinks.os, "fdatasync", fdatasync)
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group",
                          linger_s=0.4)
    await writer.write(b'{"i":0}\n')
    writer._linger.joined = 1.0  # as under load: the thread lingers for its hold
    await asyncio.to_thread(writer.post, b'{"i":1}\n')
    await asyncio.gather(*(writer.write(b'{"i":%d}\n' % i) for i in range(2, 7)))
    assert await asyncio.to_thread(writer.flush, 5)
    assert commits == []  # no line committed on its own
    assert len(syncs) <= 4  # 1 (line 0) + one hold of 1-6, twice if lines came meanwhile
    assert sorted(r["i"] for r in _lines(path)) == list(range(7))
    assert (writer.written, writer.failed) == (7, 0)
    probe = os.open(lock_path(path), os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the sync
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
    await writer.aclose()


async def test_group_a_sync_asked_when_nothing_is_held_does_not_linger(tmp_path):
    """The loop's request to sync a hold that the thread synced already (its batch joined
    the hold): nothing is held, so the writer goes on at once instead of lingering."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group",
                          linger_s=60.0)
    await writer.write(b'{"i":0}\n')  # one call at a time: no linger
    writer._linger.joined = 1.0  # as under load
    writer._put(_SYNC)  # nothing held
    assert await asyncio.to_thread(writer.flush, 10)  # a linger would be 30 s at least
    await writer.aclose()


async def test_group_a_hold_the_thread_began_is_cut_when_its_fdatasync_fails(tmp_path,
                                                                           monkeypatch):
    """A line handed to the thread is held, not committed; its fdatasync fails: the line is
    cut and counted failed, and the next one is written once the disk works again."""
    path = tmp_path / "compliance.jsonl"
    commits = _count_commits(monkeypatch)
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="group")
    await writer.write(b'{"i":0}\n')
    real = os.fdatasync

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sinks.os, "fdatasync", broken)
    await asyncio.to_thread(writer.post, b'{"i":1}\n')
    assert await asyncio.to_thread(writer.flush, 5)
    assert writer.failed == 1
    assert [r["i"] for r in _lines(path)] == [0]
    monkeypatch.setattr(sinks.os, "fdatasync", real)
    await asyncio.to_thread(writer.post, b'{"i":2}\n')
    assert await asyncio.to_thread(writer.flush, 5)
    await writer.aclose()
    assert commits == []
    assert [r["i"] for r in _lines(path)] == [0, 2]
    assert writer.failed == 1


async def test_none_keeps_the_lock_for_the_loop_turn_only(tmp_path):
    """``none``: the loop's first line of a turn takes the lock, the others of the turn
    append under it, and the lock is free again once the loop has turned."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="none")
    probe = os.open(lock_path(path), os.O_RDWR)
    try:
        for i in range(5):
            await writer.write(b'{"i":%d}\n' % i)
            with pytest.raises(BlockingIOError):  # the turn's hold
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the turn
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
    await writer.aclose()
    assert writer.on_loop == 5
    assert [r["i"] for r in _lines(path)] == list(range(5))


def test_none_a_turn_hold_whose_loop_ended_unturned_is_released_by_the_next(tmp_path):
    """A loop stopped and closed before the turn that would release the lock: the next
    loop to write releases it at the end of its own turn."""
    path = tmp_path / "compliance.jsonl"
    writer = RecordWriter(LogFile(path, max_bytes=1 << 20), durability="none")
    probe = os.open(lock_path(path), os.O_RDWR)
    try:
        async def stopping() -> None:
            asyncio.get_running_loop().stop()  # after this turn: the release never runs
            await writer.write(b'{"i":0}\n')

        first = asyncio.new_event_loop()
        first.run_until_complete(stopping())
        first.close()
        with pytest.raises(BlockingIOError):  # left held by the loop that ended
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)

        async def later() -> None:
            await writer.write(b'{"i":1}\n')
            await asyncio.sleep(0)
            await asyncio.sleep(0)

        second = asyncio.new_event_loop()
        second.run_until_complete(later())
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after its turn
        fcntl.flock(probe, fcntl.LOCK_UN)
        second.run_until_complete(writer.aclose())
        second.close()
    finally:
        os.close(probe)
    assert [r["i"] for r in _lines(path)] == [0, 1]


def test_a_turn_hold_is_bounded_and_the_thread_appends_under_it(tmp_path):
    """A loop that never yields still gives the lock back every ``_TURN_LINES`` lines; a
    line the thread writes during the turn keeps the lock, and the loop's next line goes
    after it, whole."""
    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=1 << 20)
    began = [log.append_in_turn(b'{"i":%d}\n' % i) for i in range(sinks._TURN_LINES + 1)]
    assert began == [True] + [False] * (sinks._TURN_LINES - 1) + [True]
    log.commit(b'{"i":"thread"}\n', sync=False)  # the thread's own batch, same process
    assert log.append_in_turn(b'{"i":"after"}\n') is False
    probe = os.open(lock_path(path), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # still the turn's
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert log.end_turn()
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert log.append_in_turn(b'{"i":"held elsewhere"}\n') is None  # the thread's job
    finally:
        os.close(probe)
        log.close()
    assert [r["i"] for r in _lines(path)] == [*range(sinks._TURN_LINES + 1), "thread",
                                              "after"]


_APPENDER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from callguard.compliance.sinks import LogFile
from callguard.compliance.writer import RecordWriter

async def main():
    writer = RecordWriter(LogFile(Path({path!r}), max_bytes={max_bytes}),
                          durability={durability!r})
    pad = "x" * 200
    for start in range(0, {count}, 50):
        await asyncio.gather(*(writer.write(
            ('{{"node":"{node}","i":%d,"pad":"%s"}}\\n' % (i, pad)).encode())
            for i in range(start, start + 50)))
    await writer.aclose()
    print(writer.on_loop, flush=True)

asyncio.run(main())
"""


@pytest.mark.parametrize("durability", ["none", "group"])
def test_two_processes_append_to_one_file_and_lose_nothing(tmp_path, durability):
    """Two real processes, one file, rotation on: every line whole, each exactly once."""
    path = tmp_path / "compliance.jsonl"
    count = 2000
    procs = [subprocess.Popen(
        [sys.executable, "-c", _APPENDER.format(root=str(ROOT), path=str(path), count=count,
                                                max_bytes=200_000, durability=durability,
                                                node=node)],
        stdout=subprocess.PIPE, text=True) for node in ("a", "b")]
    on_loop = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for segment in [*sinks.rotated_files(path), path]:
        for record in _lines(segment):  # raises on a torn or glued line
            seen[record["node"]].append(record["i"])
    assert {node: sorted(ids) for node, ids in seen.items()} == {
        "a": list(range(count)), "b": list(range(count))}
    assert len(sinks.rotated_files(path)) >= 2
    assert sum(on_loop) > 0  # most lines went the loop's way


def test_rotated_files_lists_compressed_segments_too(tmp_path):
    """A segment `callguard archive` compressed (.zst) is still a rotated file of the log."""
    from callguard.compliance.compress import compress_closed

    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=100)
    for i in range(3):  # each line fills the file: three rotations
        log.commit(b'{"i":%d,"pad":"%s"}\n' % (i, b"x" * 100), sync=False)
    log.close()
    plain = sinks.rotated_files(path)
    assert len(plain) == 3
    compressed = compress_closed(path)
    assert compressed
    assert all(p.name.endswith(".zst") for p in compressed)
    assert sinks.rotated_files(path) == compressed  # listed, oldest first, once each


def _thread_clock(target) -> tuple[int, threading.Thread]:
    """A thread running ``target`` and its CPU clock (the event loop's, in the writer)."""
    ready = threading.Event()
    clock: list[int] = []

    def run() -> None:
        clock.append(time.pthread_getcpuclockid(threading.get_ident()))
        ready.set()
        target()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    return clock[0], thread


def _lingered(linger: _Linger, lines) -> float:
    started = time.perf_counter()
    linger.wait(lines)
    return time.perf_counter() - started


def test_the_linger_waits_while_the_loop_works_and_never_past_its_bound():
    """A loop at work (here a spinning thread): the writer waits its bound, no longer;
    lines that never joined a hold (one call at a time): no wait at all."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    clock, thread = _thread_clock(spin)
    try:
        linger = _Linger(0.4)
        linger.clock, linger.joined = clock, 1.0
        # (a machine loaded enough to starve the spinner for 0.2 s stops it at half)
        assert 0.19 <= _lingered(linger, lambda: 0) < 2.0
        linger = _Linger(5.0)
        linger.clock = clock
        assert _lingered(linger, lambda: 0) < 1.0
    finally:
        stop.set()
        thread.join(5)


def test_the_linger_stops_halfway_when_the_loop_is_idle_and_no_line_comes():
    stop = threading.Event()
    clock, thread = _thread_clock(lambda: stop.wait(10))
    try:
        linger = _Linger(0.4)
        linger.clock, linger.joined = clock, 1.0
        assert 0.19 <= _lingered(linger, lambda: 0) < 0.35
        # lines still arriving (appended by another event loop): it waits on, to its bound
        assert 0.39 <= _lingered(linger, itertools.count().__next__) < 2.0
    finally:
        stop.set()
        thread.join(5)


async def test_group_one_call_at_a_time_never_lingers_and_arrivals_all_land(tmp_path,
                                                                         monkeypatch):
    """One answer at a time: no line ever joins a hold, so the writer never lingers (each
    record its own fdatasync, as before). Calls arriving on their own while the loop works:
    every one answered and in the file once."""
    path = tmp_path / "compliance.jsonl"
    syncs: list[int] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        real(fd)
        syncs.append(fd)

    monkeypatch.setattr(sinks.os, "fdatasync", fdatasync)
    writer = RecordWriter(LogFile(path, max_bytes=1 << 22), durability="group")
    for i in range(30):
        await writer.write(b'{"i":%d}\n' % i)
    assert len(syncs) == 30
    assert writer._linger.joined < _Linger.WHEN

    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def arriving(i: int) -> None:  # one call every 0.5 ms, 0.3 ms of work each
        await asyncio.sleep(max(0.0, t0 + i * 0.0005 - loop.time()))
        busy = time.perf_counter() + 0.0003
        while time.perf_counter() < busy:
            pass
        await writer.write(b'{"i":%d}\n' % (100 + i))

    await asyncio.gather(*(arriving(i) for i in range(400)))
    await writer.aclose()
    assert sorted(r["i"] for r in _lines(path)) == list(range(30)) + list(range(100, 500))
    assert writer.written == 430


def test_a_failed_fdatasync_of_the_threads_commit_under_a_hold_fails_the_hold(
        tmp_path, monkeypatch):
    """The thread commits its own lines under the loop's hold (a rotation due, say) and
    that fdatasync fails: the hold's lines were in the failed writeback (Linux reports
    it once and may have dropped the pages), so the hold's later fdatasync succeeding
    proves nothing of them. The hold is cut and its answers are BLOCKs, and the thread
    appends nothing more behind it."""
    path = tmp_path / "compliance.jsonl"
    log = LogFile(path, max_bytes=1 << 20)
    log.commit(b'{"i":0}\n', sync=True)
    real = os.fdatasync
    failed: list[int] = []

    def broken(fd: int) -> None:
        if not failed:
            failed.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    try:
        assert log.try_append(b'{"i":1}\n', hold=True, waiter="a") is True
        monkeypatch.setattr(sinks.os, "fdatasync", broken)
        with pytest.raises(OSError, match="Input/output"):
            log.commit(b'{"i":2}\n', sync=True)
        with pytest.raises(OSError, match="Input/output"):  # a retry of that line alone
            log.commit(b'{"i":2}\n', sync=True)
        waiters, error = log.sync_held()
        assert waiters == ["a"]
        assert isinstance(error, OSError)
        assert [r["i"] for r in _lines(path)] == [0]
        log.commit(b'{"i":3}\n', sync=True)  # the hold is over: the file takes lines again
        assert [r["i"] for r in _lines(path)] == [0, 3]
    finally:
        log.close()


class TestNewFileEntry:
    """A new current file (first start, a rotation, a segment closed by purge or the
    archiver) is a new directory entry: until the directory is synced a power loss can
    lose the file, and every acknowledged record in it. Before, only a rotation synced the
    directory; a file created at start or after ``close_segment`` never was."""

    @staticmethod
    def synced_dirs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The paths ``os.fsync`` is called on (the real fsync still runs)."""
        seen: list[str] = []
        real = os.fsync

        def spy(fd: int) -> None:
            seen.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd)

        monkeypatch.setattr(os, "fsync", spy)
        return seen

    def test_the_directory_is_synced_before_a_record_in_a_new_file(self, tmp_path,
                                                                   monkeypatch):
        seen = self.synced_dirs(monkeypatch)
        path = tmp_path / "compliance.jsonl"
        log = LogFile(path, max_bytes=1 << 20)  # created at start: synced there
        assert seen == [str(tmp_path)]
        seen.clear()
        log.commit(b'{"a":1}\n', sync=True)  # an existing entry: nothing more
        assert seen == []
        assert sinks.close_segment(path) is not None  # as purge and the archiver do
        # the loop's next line finds the new file must be created: the thread must
        assert log.try_append(b'{"a":2}\n', hold=True) is None
        assert seen == []
        log.commit(b'{"a":2}\n', sync=True)
        assert seen == [str(tmp_path)]
        assert path.read_bytes() == b'{"a":2}\n'
        log.close()

    def test_an_existing_file_is_not_a_new_entry(self, tmp_path, monkeypatch):
        path = tmp_path / "compliance.jsonl"
        path.write_bytes(b'{"a":1}\n')
        seen = self.synced_dirs(monkeypatch)
        log = LogFile(path, max_bytes=1 << 20)
        assert log.try_append(b'{"a":2}\n', hold=False) is False  # the loop appends at once
        assert seen == []
        log.close()
