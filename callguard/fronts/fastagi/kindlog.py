"""One warning line per kind and period, with a count: a log a peer cannot flood.

``fastagi_bad_headers`` was one line per connection: 400 silent connections from an
allowed address (a broken dialer, or an attacker on an allowed host) wrote 400 lines.
The counters (``bad_headers``, ``header_<kind>``) still count each one; the log says
each kind once, then at most once a ``period``, with how many came since its last line.

The FastAGI front's three once-a-minute lines are this one mechanism (session 31): the
bad header blocks (a kind per ``HeaderError.kind``), the connections closed at
``max_connections`` (one kind), and the refused sources (a kind per address, at most
``kinds`` remembered, the others under one ``overflow`` line). A kind is the code's own
value or a peer's address, never a byte the peer sent: the table stays small whatever
the peer sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

__all__ = ["KindLog"]


def _monotonic() -> float:
    """``time.monotonic`` looked up at each call, so a test's patched clock is seen."""
    return time.monotonic()


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
    values, never a peer's.

    The line's field names are the caller's (the lines kept their names when they came
    here): ``kind_field`` (None: the kind is not written, a log of one kind),
    ``count_field``, ``period_field`` (None: not written). ``kinds``: at most that many
    entries remembered (0: no bound; for kinds a peer chooses, such as its address);
    a new kind past them first forgets those whose last line is a ``period`` old (their
    unlogged count with them: the next is logged at once anyway), then, still full, is
    counted and lined as ``overflow``, one line a period for all of them."""

    def __init__(self, logger: Any, event: str, period: float = 60.0,
                 clock: Callable[[], float] = _monotonic, *, kind_field: str | None = "kind",
                 count_field: str = "count", period_field: str | None = "period_s",
                 kinds: int = 0, overflow: str = "*") -> None:
        self._logger = logger if logger is not None else structlog.get_logger()
        self._event = event
        self._period = period
        self._clock = clock
        self._kind_field = kind_field
        self._count_field = count_field
        self._period_field = period_field
        self._kinds = kinds
        self._overflow = overflow
        # (kind, apart) -> (when its last line was written, events not yet in a line)
        self._table: dict[tuple[str, str], tuple[float, int]] = {}

    def __len__(self) -> int:
        """Entries remembered (bounded by ``kinds`` and one ``overflow``)."""
        return len(self._table)

    def pending(self, kind: str, apart: str = "") -> int:
        """Events of ``kind`` counted since its last line, not yet in a line."""
        return self._table.get((kind, apart), (0.0, 0))[1]

    def note(self, kind: str, *, apart: str = "", **fields: Any) -> bool:
        """Count one event of ``kind``; log it when a line is due. Whether it was."""
        now = self._clock()
        key = self._key(kind, apart, now)
        entry = self._table.get(key)
        since = (entry[1] if entry is not None else 0) + 1
        if entry is not None and now - entry[0] < self._period:
            self._table[key] = (entry[0], since)
            return False
        self._table[key] = (now, 0)
        line: dict[str, Any] = {}
        if self._kind_field is not None:
            line[self._kind_field] = key[0]
        line[self._count_field] = since
        if self._period_field is not None:
            line[self._period_field] = self._period
        self._logger.warning(self._event, **line, **fields)
        return True

    def _key(self, kind: str, apart: str, now: float) -> tuple[str, str]:
        """The table entry an event of ``kind`` goes to: its own, or ``overflow``'s."""
        key = (kind, apart)
        table = self._table
        if not self._kinds or key in table or len(table) < self._kinds:
            return key
        for old in [k for k, (at, _) in table.items() if now - at >= self._period]:
            del table[old]
        return key if len(table) < self._kinds else (self._overflow, apart)
