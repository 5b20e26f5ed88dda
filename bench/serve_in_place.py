"""``bench/serve_at.py`` with the thread CPU of chosen steps counted, for
``bench/bench_fastagi.py --parts FILE``.

Run: python bench/serve_in_place.py OUT ISO_INSTANT -- [callguard arguments ...]

Why: in one process, deciding measures ~30 µs a call (``bench/bench_gate.py``), but a
FastAGI session costs ~190 µs more than the null server's. This launcher counts, inside
the serving process under the benchmark's load, the thread CPU (``time.thread_time_ns``)
of each step below, inclusive of what it calls; on SIGUSR1 (and at exit) it writes one
line per step to OUT; SIGUSR2 starts the counts again (after the benchmark's warm-up,
whose first call of each exchange asks phonenumbers). Each clock read costs ~0.4 µs (a
system call on this VM): two per synchronous call, two per resumption of a coroutine,
and nested steps add theirs to their callers — read leaves as they are and callers as
upper bounds.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Generator
from pathlib import Path
from typing import Any

import serve_at

from callguard import audit
from callguard.compliance import record
from callguard.fronts.fastagi import server
from callguard.gate import Gate
from callguard.numbers.nanp import NanpTable
from callguard.numbers.parse import NumberParser
from callguard.policy import engine

_clock = time.thread_time_ns
_spent: dict[str, list[int]] = {}  # step -> [nanoseconds, calls]


def _add(step: str, ns: int) -> None:
    counted = _spent.setdefault(step, [0, 0])
    counted[0] += ns
    counted[1] += 1


class _Counted:
    """Awaits a coroutine, counting the thread CPU of each of its resumptions."""

    __slots__ = ("coro", "step")

    def __init__(self, coro: Coroutine[Any, Any, Any], step: str) -> None:
        self.coro, self.step = coro, step

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, total, sent, thrown = self.coro, 0, None, None
        while True:
            began = _clock()
            try:
                waiting = coro.send(sent) if thrown is None else coro.throw(thrown)
            except StopIteration as done:
                _add(self.step, total + _clock() - began)
                return done.value
            except BaseException:
                _add(self.step, total + _clock() - began)
                raise
            total += _clock() - began
            try:
                sent, thrown = (yield waiting), None
            except BaseException as exc:  # noqa: BLE001 - handed on, as await does
                sent, thrown = None, exc


def _count(owner: Any, name: str, step: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def counted_coroutine(*args: Any, **kwargs: Any) -> Any:
            return await _Counted(original(*args, **kwargs), step)

        setattr(owner, name, counted_coroutine)
        return

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        began = _clock()
        try:
            return original(*args, **kwargs)
        finally:
            _add(step, _clock() - began)

    setattr(owner, name, counted)


STEPS: tuple[tuple[Any, str], ...] = (
    (server.FastAgiServer, "_serve"),
    (server.FastAgiServer, "_check"),
    (Gate, "check"),
    (Gate, "_decide"),
    (Gate, "_run"),
    (Gate, "_finish"),
    (NumberParser, "parse"),
    (NanpTable, "lookup"),
    (engine.Policy, "plan"),
    (engine.Policy, "decide"),
    (audit.ComplianceLog, "record"),
    (record.RecordEncoder, "decision_line"),
)


def _write(out: Path) -> None:
    lines = [f"{step:32} {calls:9d} calls {ns / max(1, calls) / 1000:8.1f} us/call"
             for step, (ns, calls) in sorted(_spent.items())]
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    out = Path(sys.argv.pop(1))
    for owner, name in STEPS:
        _count(owner, name, f"{owner.__name__}.{name}")
    server.read_headers = functools.partial(_read_headers_counted, server.read_headers)
    atexit.register(_write, out)
    signal.signal(signal.SIGUSR1, lambda *_: _write(out))
    signal.signal(signal.SIGUSR2, lambda *_: _spent.clear())
    serve_at.main()


async def _read_headers_counted(original: Callable[..., Coroutine[Any, Any, Any]],
                                *args: Any, **kwargs: Any) -> Any:
    return await _Counted(original(*args, **kwargs), "read_headers")


if __name__ == "__main__":
    main()
