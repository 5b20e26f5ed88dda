"""Every node says when its clock is unsynchronised, whatever its fronts (hcli33).

Only /readyz asked the kernel (adjtimex TIME_ERROR), so a FastAGI-only node (no HTTP front)
judged calling hours on a drifting clock and never said so. ``ClockNotice`` is asked at
start and on every tick of ``serve``: a warning once per episode, a line when it is back;
no number in either. The kernel's answer is injected (the function runtime.py passes).
"""

from __future__ import annotations

import structlog

from callguard.clock_notice import ClockNotice
from callguard.config import load_settings
from callguard.runtime import clock_check


def test_unsynchronised_is_said_once_per_episode_and_its_end_too() -> None:
    answers = iter([(True, "synchronised"),
                    (False, "the kernel reports the clock unsynchronised (TIME_ERROR)"),
                    (False, "the kernel reports the clock unsynchronised (TIME_ERROR)"),
                    (True, "synchronised"), (False, "adjtimex failed (errno 1)")])
    notice = ClockNotice(lambda: next(answers))
    with structlog.testing.capture_logs() as logs:
        seen = [notice.check() for _ in range(5)]
    assert seen == [True, False, False, True, False]
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("clock_unsynchronised", "warning"), ("clock_synchronised", "info"),
        ("clock_unsynchronised", "warning")]
    first = logs[0]
    assert "TIME_ERROR" in first["detail"]
    assert "calling hours" in first["effect"]
    assert "timedatectl" in first["fix"]


def test_require_clock_sync_off_checks_nothing(tmp_path) -> None:
    """[http] require_clock_sync = false (a container whose host keeps time): the same
    choice as /readyz's, so no warning on every start."""
    config = tmp_path / "callguard.toml"
    config.write_text("[http]\nrequire_clock_sync = false\n")
    settings = load_settings(config, data_dir=tmp_path)
    assert clock_check(settings)() == (True, "not checked ([http] require_clock_sync = false)")
