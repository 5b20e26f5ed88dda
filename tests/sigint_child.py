"""A child process that gets Ctrl-C as a terminal would give it.

A process started with SIGINT ignored (a job bash starts with ``&``, a CI runner's
background step) passes the ignore on to its children, and Python then leaves SIGINT
ignored in them: a test that sends SIGINT to a ``callguard`` child would test nothing
(the child runs on, "carried on", exit 0). ``sigint_default`` is given as ``preexec_fn``
so the child starts with SIGINT at its default, as under a shell in a terminal."""

from __future__ import annotations

import signal


def sigint_default() -> None:
    """In the child before exec: SIGINT back to its default (Python installs its own)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
