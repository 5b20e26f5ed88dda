"""Review of ff70e29: with no record of when a follower last watched, the first picture
bounds each call's outage by the call's age, its oldest channel's CoreShowChannel
``Duration`` (manager.c ``action_coreshowchannels``: whole seconds since the channel's
creation, ``%02d:%02d:%02d``; empty when the snapshot has no creation time).

That bound must never be a lower one: the age of the channels whose Duration could be read
is not the call's age when another channel of it says nothing readable — that one may be
the oldest. The record then took a call 40 s old for 4 s old and wrote a release "within
the limit" it could not prove. Unreadable anywhere: the forget window, as when none reads.

REPLAYS lab call-01 (real Asterisk 22.10.1) through the pure tracker, the picture
SYNTHESISED from it as in test_asterisk19_unbounded.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, TrackerSettings
from tests.test_asterisk18_watchdog import _picture, _released
from tests.test_watchdog import written

START = 100.0
PICTURE = START + 0.5


def _run(durations: list[str]) -> tuple[dict, list]:
    linkedid, back = _picture(follow=True)
    assert len(back) == len(durations)
    for item, duration in zip(back, durations, strict=True):
        item["Duration"] = duration
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(START, bounded=False)
    asked = tracker.reconcile(back, PICTURE)
    release = _released(tracker, linkedid, asked, PICTURE, reports)
    return release, [f for name, f in reports if name == "violation-risk"]


@pytest.mark.parametrize("unreadable", ["", "garbage", "00:0x:40", "-0:00:40", "00:00"])
def test_one_unreadable_duration_is_no_bound_from_the_others(unreadable):
    release, risks = _run(["00:00:03", unreadable])
    assert release["ami_outage_unbounded"] is True
    assert release["ami_outage_s"] == pytest.approx(TrackerSettings().forget_after_s + 0.1)
    assert release["within_limit"] is False
    assert len(risks) == 1


def test_the_oldest_readable_channel_bounds_when_all_read():
    release, risks = _run(["00:00:03", "00:01:40"])
    assert release["ami_outage_s"] == pytest.approx(101.1)
    assert release["within_limit"] is False
    assert len(risks) == 1
