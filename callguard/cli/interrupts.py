"""Ctrl-C (SIGINT) for the ``callguard`` command: one line "interrupted", exit 130.

A Ctrl-C during the first second of `callguard serve` (importing click, rich, then the
gate, the fronts, aiohttp) was Python's KeyboardInterrupt traceback, exit -2, or, once
click ran, a blank line and exit 2 (click's Abort, read by ``main`` as a usage error).
This module imports nothing heavy, so ``callguard.cli.main`` can take SIGINT over before
its own imports: ``quiet_imports`` around them, then ``main`` turns a KeyboardInterrupt
into the same line and exit (``EXIT_INTERRUPTED``, the shell's 128 + SIGINT).

Python's own handler is back once the imports are done: commands that catch
KeyboardInterrupt (`tail -f` ends quietly on it) keep doing so, and ``asyncio.run`` keeps
its way with a Ctrl-C (the main task cancelled at its next ``await``, so a store opened
synchronously is opened whole before the command unwinds). `serve` stops on SIGINT and
SIGTERM through its own loop handlers once started.
"""

from __future__ import annotations

# os and signal only (loaded before any of callguard by the interpreter itself): this module
# runs before the imports it guards, and a heavier one delayed the guard (typing: ~10 ms).
import os
import signal

__all__ = ["EXIT_INTERRUPTED", "MESSAGE", "Interrupted", "quiet_imports", "say_interrupted"]

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130: what a shell reports for a Ctrl-C
MESSAGE = "interrupted"


class Interrupted(BaseException):
    """A Ctrl-C while a command ran, past click (which read one as Abort: exit 2)."""


def say_interrupted() -> None:
    """The one line on stderr (a raw write: it may run inside a signal handler, where a
    write to ``sys.stderr`` could re-enter one in progress)."""
    try:  # noqa: SIM105 - contextlib is one import more before the guard
        os.write(2, f"{MESSAGE}\n".encode())
    except OSError:  # stderr closed: the exit status says it
        pass


def _exit_quietly(_signum: int, _frame: object) -> None:
    """The line, and the process ends now: nothing is written under the guard (imports
    only), and a SystemExit raised here could be swallowed by the code it lands in (a C
    extension's import clearing the error: "interrupted", then the command ran on; hrev140)."""
    say_interrupted()
    os._exit(EXIT_INTERRUPTED)


class quiet_imports:
    """A Ctrl-C inside the block (imports: nothing written yet) exits 130 with the line,
    no traceback; the handler before it is back after it. Only in the main thread (a
    program that imports callguard from another thread keeps its handler), and only over
    Python's own handler: a SIGINT ignored (a job started in the background by a script)
    stays ignored, another program's handler stays its."""

    def __init__(self) -> None:
        self._taken = False

    def __enter__(self) -> None:
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, _exit_quietly)
                self._taken = True
        except ValueError:  # not the main thread
            pass

    def __exit__(self, *_exc: object) -> None:
        if self._taken:
            signal.signal(signal.SIGINT, signal.default_int_handler)
