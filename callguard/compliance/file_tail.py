"""A tail of this node's log file: the backlog, then the follow, from one start.

The one mechanism of `callguard tail [-f]` and of the supervisor page's live feed
(``FileTail``). The page had its own copy: it took the file's end, read its backlog up to
there and followed from there, the start of the last line looked for only then, so a
record mid-write when the page opened was in neither (hlog25), and a heal while the
backlog was read was passed over, as `tail -f` had done until hlog24.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator
from pathlib import Path
from typing import BinaryIO

from callguard.compliance.reader import (
    ReadStats,
    Record,
    RecordFilter,
    closed_now,
    follow_file,
    follow_start,
    newest_first,
    oldest_first,
)

__all__ = ["tail_file"]


def tail_file(path: Path, handle: BinaryIO | None, wanted: RecordFilter, stats: ReadStats,
              *, lines: int | None, follow: bool, poll: float = 0.2,
              stop: Callable[[], bool] | None = None) -> Generator[Record, None, None]:
    """The newest ``lines`` matching records (every one: None; none: 0), oldest first,
    then, with ``follow``, every matching record written after them, as it comes.

    ``handle``: the current file, opened by the caller (None: there is none); the follow
    closes it when it ends. Where the follow starts is found before the backlog is read
    (``follow_start``): a writer may heal (cut) a torn tail meanwhile, and the follow then
    looked back from the new contents and passed over the records written since (hlog24).
    The backlog reads up to the last line's start; the follow on from there, so that a
    record being written (its line unfinished) is shown once, when whole. ``stop``: asked
    at each poll of the follow, which ends once it says so (``follow_file``)."""
    end = os.fstat(handle.fileno()).st_size if handle is not None else 0
    boundary = start = end
    known = None
    if follow and handle is not None:
        boundary, start = follow_start(handle, end)
        # The segments closed so far, known now: taken after the backlog, one closed while
        # it was read (a rotation) was known as old, and its records were in neither.
        known = closed_now(path, handle)
    if lines is None:
        yield from oldest_first(path, wanted, stats, current_end=boundary, current=handle)
    elif lines:
        newest: deque[Record] = deque()
        for record in newest_first(path, wanted, stats, current_end=boundary, current=handle):
            newest.appendleft(record)
            if len(newest) == lines:
                break
        yield from newest
    if follow and handle is not None:
        yield from follow_file(path, handle, start, wanted, stats, poll=poll,
                               boundary=boundary, stop=stop, known=known)
