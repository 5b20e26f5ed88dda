"""Whether this node's clock is synchronised, said in its log whatever its fronts.

Calling hours are judged by this clock. /readyz asks the kernel (adjtimex TIME_ERROR), but
a node serving FastAGI or SIP alone has no /readyz: it judged hours on a drifting clock and
never said so. ``serve`` asks at start and on every tick; the log says it once per episode
(a tick every few seconds would repeat it for hours) and says when it is back.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

__all__ = ["ClockNotice"]

_log = structlog.get_logger("callguard.serve")


class ClockNotice:
    """Logs ``clock_unsynchronised`` when the check turns false, ``clock_synchronised``
    when it turns true again. ``check`` is ``runtime.clock_check(settings)``: adjtimex, or
    nothing under ``[http] require_clock_sync = false`` (the same choice as /readyz's)."""

    __slots__ = ("_check", "_said")

    def __init__(self, check: Callable[[], tuple[bool, str]]) -> None:
        self._check = check
        self._said = False

    def check(self) -> bool:
        """Ask the clock now; log a change; True when synchronised."""
        synced, detail = self._check()
        if not synced and not self._said:
            _log.warning("clock_unsynchronised", detail=detail,
                         effect="calling hours are judged on this clock: a call ALLOWed at "
                                "20:55 may be placed at 21:05 the called party's time",
                         fix="synchronise it (timedatectl set-ntp true, or start chronyd/"
                             "ntpd); where the host keeps time but the kernel does not say "
                             "so (a container), set [http] require_clock_sync = false")
        elif synced and self._said:
            _log.info("clock_synchronised", detail=detail)
        self._said = not synced
        return synced
