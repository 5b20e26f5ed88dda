"""Reviewer hrev155 (third look at hwd33): a call whose every channel hung up while a
requested leg's Dial events wait for the number's digest (``_last_gone``, ``ended_at``)
is kept until the digest is known (``_finish_held``). An AMI drop and picture in that
wait (``reconcile``) found it with no channel and finished it there as a call that ended
in the outage: ``ended_by`` "unknown (AMI disconnected)", ``ami_outage_s``, the held Dial
events never decided (dial status None, "not-answered") — though every Hangup of it was
seen before the drop, and the digest (a store lookup, not AMI) still came. Now the picture
leaves it to its digest's wait.

The shape of tests/test_hwd33_release_budget_gaps.py (review52's restart); pure tracker,
synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import plain_digest
from tests import test_review52_watchdog as r52
from tests.test_hwd33_release_budget_gaps import ended_waiting_for_digest


def test_a_picture_in_the_digests_wait_leaves_an_ended_call_to_its_digest() -> None:
    """Fails on hwd33/hrev151: "unknown (AMI disconnected)", ``ami_outage_s`` 0.3, dial
    status None."""
    tracker, find, records, now = ended_waiting_for_digest()
    assert r52.LINKEDID in tracker.calls  # waiting for the digest
    assert records == []
    tracker.disconnected(now + 0.1)
    tracker.reconcile([], now + 0.4)
    tracker.number_found(r52.LINKEDID, find.decision_id, plain_digest(r52.NUMBER), now + 0.45)
    tracker.due(now + 30.0)
    assert tracker.calls == {}
    [(name, record)] = records
    assert name == "line-release"
    assert "ami_outage_s" not in record
    assert record["dial_status"] == "ANSWER"
    assert record["called_channel"] == r52.CUSTOMER["Channel"]
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == 100.0
