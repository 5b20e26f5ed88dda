"""One warning line per kind and period, with a count: a log a peer cannot flood.

``fastagi_bad_headers`` was one line per connection: 400 silent connections from an
allowed address (a broken dialer, or an attacker on an allowed host) wrote 400 lines.
The counters (``bad_headers``, ``header_<kind>``) still count each one; the log says
each kind once, then at most once a ``period``, with how many came since its last line.
The kinds are the code's own (``HeaderError.kind``), never a peer's bytes: the table
holds a handful of entries whatever the peer sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

__all__ = ["KindLog"]


class KindLog:
    """``note(kind, **fields)``: the first of a kind is logged at once (``count`` 1); the
    next ones within ``period`` seconds are only counted, and the first after it is logged
    with ``count``, the events of that kind since the kind's last line, itself included.
    Events after a kind's last line stay unlogged until the next one of that kind comes
    (the counters have them all). The line's other fields are the event's that was
    logged, and ``period_s`` says how long a line may stand for.

    ``apart``: events of one kind that must not stand for each other (a too-large block
    answered BLOCK, and one closed unanswered: the dialplan of the second got no answer)
    are lined and counted apart, one table entry per (kind, apart); the code's own
    values, never a peer's."""

    def __init__(self, logger: Any, event: str, period: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger if logger is not None else structlog.get_logger()
        self._event = event
        self._period = period
        self._clock = clock
        # (kind, apart) -> when its last line was written / events not yet in a line
        self._last: dict[tuple[str, str], float] = {}
        self._since: dict[tuple[str, str], int] = {}

    def note(self, kind: str, *, apart: str = "", **fields: Any) -> bool:
        """Count one event of ``kind``; log it when a line is due. Whether it was."""
        key = (kind, apart)
        since = self._since.get(key, 0) + 1
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._period:
            self._since[key] = since
            return False
        self._last[key] = now
        self._since[key] = 0
        self._logger.warning(self._event, kind=kind, count=since,
                             period_s=self._period, **fields)
        return True
