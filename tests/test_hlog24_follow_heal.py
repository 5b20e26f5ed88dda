"""`tail -f` and a torn tail healed while it prints its backlog (hlog24).

`tail -f` took the file's end, printed its backlog, and only then looked back from that
end for the start of the last line (where a writer's heal cuts a torn tail back to). A
writer that healed the tail while the backlog was printed (a crash's torn tail, then the
node restarted) had already cut the file and written on: the look back found the new
records' end, and the follow passed over them — never shown by `tail -f` (they are in
the file: `tail` without -f, `evidence` find them). Real file, real ``LogFile`` heal; the
heal is made by the writer from the backlog's ``show`` (while it is printed).
"""

from __future__ import annotations

import json
import signal
from types import SimpleNamespace

import pytest

from callguard.cli.logs import _tail_file
from callguard.compliance.reader import ReadStats, RecordFilter
from callguard.compliance.segments import LONG_LINE
from callguard.compliance.sinks import LogFile


class _Seen(Exception):
    """The last new record came: the follow is stopped here."""


class _Waited(Exception):
    """The follow never showed it (the alarm)."""


def _record(i: int) -> bytes:
    return b'{"schema":1,"event":"line-release","logged_at":"2026-12-04T00:00:00.000Z",' \
           b'"node":"n1","i":%d}\n' % i


@pytest.mark.parametrize("lines", [2, None], ids=["n-2", "all"])
@pytest.mark.parametrize("torn", [b"\0" * (1 << 20), b"\0" * (LONG_LINE + (1 << 20)),
                                  b'{"schema":1,"event":"line-rel'],
                         ids=["nul-1MiB", "nul-past-long-line", "short-torn"])
def test_a_heal_while_the_backlog_is_printed_is_followed(tmp_path, lines, torn):
    path = tmp_path / "compliance.jsonl"
    path.write_bytes(b"".join(_record(i) for i in range(1, 4)) + torn)
    seen: list[int] = []
    healed: list[bool] = []

    def show(record):
        seen.append(record["i"])
        if not healed:  # the node restarts while tail prints its first record
            healed.append(True)
            log = LogFile(path, max_bytes=1 << 30)
            for i in (10, 11):
                log.commit(_record(i), sync=True)
            log.close()
        if record["i"] == 11:
            raise _Seen

    def waited(signum, frame):
        raise _Waited

    previous = signal.signal(signal.SIGALRM, waited)
    signal.setitimer(signal.ITIMER_REAL, 8.0)
    try:
        query = SimpleNamespace(filter=RecordFilter(), stats=ReadStats())
        with pytest.raises((_Seen, _Waited)):
            _tail_file(query, path, show, True, lines)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    backlog = [2, 3] if lines == 2 else [1, 2, 3]
    assert seen == [*backlog, 10, 11]
    assert [json.loads(x)["i"] for x in path.read_bytes().splitlines()] == [1, 2, 3, 10, 11]


def test_a_heal_that_writes_past_a_short_torn_line_is_followed(tmp_path):
    """A writer killed mid-line leaves a short fragment; tail -f holds it, waiting for its
    end. The heal cuts it and writes a whole record in its place, longer than it: the
    file is then longer than where the follow stood, no cut was seen, and the follow read
    on from its old offset — the new record's last bytes glued to the fragment, one torn
    line, the record never shown."""
    import threading

    path = tmp_path / "compliance.jsonl"
    path.write_bytes(_record(1) + b'{"schema":1,"event":"decision","at":"2026')
    seen: list[int] = []

    def heal():
        log = LogFile(path, max_bytes=1 << 30)
        for i in (10, 11):
            log.commit(_record(i), sync=True)
        log.close()

    def show(record):
        seen.append(record["i"])
        if record["i"] == 11:
            raise _Seen

    def waited(signum, frame):
        raise _Waited

    previous = signal.signal(signal.SIGALRM, waited)
    signal.setitimer(signal.ITIMER_REAL, 8.0)
    timer = threading.Timer(0.5, heal)  # the follow has read the fragment and waits
    timer.start()
    try:
        stats = ReadStats()
        query = SimpleNamespace(filter=RecordFilter(), stats=stats)
        with pytest.raises((_Seen, _Waited)):
            _tail_file(query, path, show, True, 1)
    finally:
        timer.join()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert seen == [1, 10, 11]
    assert stats.torn == 1  # the fragment, once
