"""The memory of Hangups read (calls.py ``CallTracker._hung_up``) is bounded and forgets the
oldest first (review of hwd27).

Pure tracker, synthetic clock, on the Asterisk 22.10.1 lab recording call-01 as in
``test_hwd27_duplicate_hangup``. SYNTHESISED: the Hangups of ``_MAX_HUNG_UP`` channels of no
call that fill the memory (call-01's Hangup with its name, Uniqueid and Linkedid changed),
and the agent's channel of another call whose Linkedid moved to call-01's (as in
``test_a_duplicate_routed_by_linkedid_to_another_call``). No test said which Uniqueid goes
when the memory is full, nor that it stays within its bound: evicting the newest (the one
just read) or never evicting passed every test.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import _MAX_HUNG_UP
from tests.fake_ami import lab_events, linkedid_of, parse
from tests.test_hwd27_duplicate_hangup import _feed, _hangups, _release, _tracker
from tests.test_watchdog import CALL_01, CALLER_01


def test_a_full_memory_forgets_the_oldest_hangup_not_the_one_just_read():
    """``_MAX_HUNG_UP`` Hangups of other channels read first, then the agent's channel of
    another call (its Linkedid moved to call-01's) hangs up while call-01 talks: the oldest
    Hangup is forgotten, the agent's kept, so its duplicate is still no first hangup of
    call-01 — forgotten, it went to call-01 by Linkedid as the call's first hangup, by a
    person off the called party's side, and the called party's own hangup then released
    nothing. The memory holds ``_MAX_HUNG_UP`` Uniqueids, no more."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports, limit=25.0)
    linkedid = linkedid_of(lab_events(CALL_01))
    new = next(parse(e) for e in before if parse(e).get("Event") == "Newchannel")
    hangup = next(parse(e) for e in before if parse(e).get("Event") == "Hangup")
    other = {"Channel": "PJSIP/agent-0000000a", "Uniqueid": "1795326249.7",
             "Linkedid": "1795326249.7"}
    gone = dict(hangup, **dict(other, Linkedid=linkedid))
    fillers = [f"1795320000.{i}" for i in range(_MAX_HUNG_UP)]
    answered = next(i for i, e in enumerate(before) if parse(e).get("Event") == "BridgeEnter")
    for event in before[:answered + 2]:
        tracker.feed(parse(event), 1.0)
    for uniqueid in fillers:
        assert tracker.feed(dict(hangup, Channel=f"PJSIP/gone-{uniqueid}", Uniqueid=uniqueid,
                                 Linkedid=uniqueid), 1.2) == []
    assert len(tracker._hung_up) == _MAX_HUNG_UP
    assert tracker.feed(dict(new, **other), 1.3) == []
    assert tracker.feed(gone, 1.5) == []
    assert len(tracker._hung_up) == _MAX_HUNG_UP
    assert fillers[0] not in tracker._hung_up  # the oldest went
    assert fillers[1] in tracker._hung_up
    assert tracker.feed(gone, 1.6) == []
    assert tracker.calls[linkedid].first_hangup is None
    assert _hangups(_feed(tracker, before[answered + 2:], 2.0)) == [
        (name, 1) for name in CALLER_01]
    _feed(tracker, held, 2.5)
    [record] = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] == pytest.approx(500)
