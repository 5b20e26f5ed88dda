"""A node that does not know when a follower last watched measured the outage from its
own start: a release "within ~0 s" for a called party gone for minutes.

``SoleFollower.last_seen`` reads the node's alive file; ``RedisLease.last_seen`` the lease's
key. Missing (a first start, a data dir lost or never writable, Redis that lost its data)
they give None, and ``AmiWatchdog.start`` passed the process start to ``disconnected``:
the first picture's calls whose called party had gone were bounded by the second since
start — ``release_ms`` 0.3 s, ``within_limit: true``, no violation risk — a compliance
record claiming a release it cannot prove (Utah Code 13-25a-103(5)(e); 47 U.S.C.
227(d)(3)(B)). Now the first picture bounds each call by its own age (the oldest channel's
CoreShowChannel ``Duration``, manager.c ``action_coreshowchannels``) and says so
(``ami_outage_unbounded``).

REPLAYS lab call-01 (real Asterisk 22.10.1) through the pure tracker; the picture is
SYNTHESISED from it (``picture_at``, as test_asterisk18_watchdog): restarted after the called
party answered and hung up with ``Dial(...,g)``, the calling legs still up.
"""

from __future__ import annotations

import time

import pytest

from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.test_asterisk18_watchdog import _picture, _released
from tests.test_watchdog import written

START = 100.0  # the process start, on the tracker's clock
PICTURE = START + 0.5


def _run(*, bounded: bool, duration: str = "00:00:40") -> tuple[dict, list]:
    linkedid, back = _picture(follow=True)
    for item in back:
        item["Duration"] = duration
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(START, bounded=bounded)
    asked = tracker.reconcile(back, PICTURE)
    release = _released(tracker, linkedid, asked, PICTURE, reports)  # read at +0.1 s
    return release, [f for name, f in reports if name == "violation-risk"]


def test_no_known_last_watch_bounds_the_release_by_the_calls_age():
    release, risks = _run(bounded=False)
    assert release["ended_by"] == "called-party"
    assert release["release_ms_is_upper_bound"] is True
    assert release["ami_outage_unbounded"] is True
    assert release["ami_outage_s"] == pytest.approx(41.1)  # 40 s old, the second cut, the read
    assert release["release_ms"] > 25_000
    assert release["within_limit"] is False
    [risk] = risks
    assert risk["ami_outage_unbounded"] is True
    assert risk["elapsed_ms"] > 25_000


def test_a_young_call_stays_within_the_limit_when_its_age_says_so():
    """A call 3 s old cannot have had its called party gone longer than that."""
    release, risks = _run(bounded=False, duration="00:00:03")
    assert release["ami_outage_s"] == pytest.approx(4.1)
    assert release["within_limit"] is True
    assert risks == []


def test_an_unreadable_duration_is_bounded_by_the_forget_window():
    release, risks = _run(bounded=False, duration="")
    assert release["ami_outage_s"] == pytest.approx(TrackerSettings().forget_after_s + 0.1)
    assert release["within_limit"] is False
    assert len(risks) == 1


def test_a_known_last_watch_is_still_the_bound():
    release, risks = _run(bounded=True)
    assert "ami_outage_unbounded" not in {k for k, v in release.items() if v is not None}
    assert release["ami_outage_s"] == pytest.approx(0.6)  # since START, to the DIALSTATUS read
    assert release["within_limit"] is True
    assert risks == []


async def test_a_node_with_no_alive_file_says_the_bound_is_unknown(tmp_path):
    """``SoleFollower`` with no alive file: ``last_seen`` None, and the AMI start passes
    ``bounded=False`` (the tracker's first picture then bounds by the call's age)."""
    from callguard.watchdog.ami import AmiSettings, AmiWatchdog
    from callguard.watchdog.lease import SoleFollower

    assert await SoleFollower(tmp_path / "watchdog-alive-x").last_seen() is None
    linkedid, back = _picture(follow=True)
    for item in back:
        item["Duration"] = "00:00:40"
    tracker = CallTracker(TrackerSettings(), report=lambda name, **fields: None)
    watchdog = AmiWatchdog(AmiSettings(enabled=True, port=1, reconnect_min_ms=50,
                                       reconnect_max_s=0.5), "s", tracker)
    try:
        await watchdog.start(known_until=None)
        tracker.reconcile(back, time.monotonic())  # the first picture, as after a login
        call = tracker.calls[linkedid]
        assert call.outage_unbounded is True
        assert call.rebuild_since is not None
        assert time.monotonic() - call.rebuild_since >= 41.0
    finally:
        await watchdog.aclose()
