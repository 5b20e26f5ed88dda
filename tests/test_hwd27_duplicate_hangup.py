"""A Hangup event read twice for one channel moves nothing (calls.py ``_first_hangup_of``).

Pure tracker, synthetic clock. The call is the Asterisk 22.10.1 lab recording call-01
(answered, the called party hangs up first), its calling legs' events held back until
callguard's Hangups name them (a Dial with the ``g`` option). Every duplicate here is
SYNTHESISED (the recorded event fed again), and so is the channel of another call in
``test_a_duplicate_routed_by_linkedid_to_another_call``: call-01's own Newchannel and
Hangup events with its name, Uniqueid and Linkedid changed. A channel hangs up once:
Asterisk publishes one Hangup per Uniqueid (since 17, stasis_channels.h
``ast_channel_publish_final_snapshot``: the final snapshot, removing it from the cache).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import Followed, HangupChannel, TrackerSettings
from tests.fake_ami import lab_events, linkedid_of, parse
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, UTAH, GateTimed, written


def _tracker(reports: list[tuple[str, dict]], *, grace: float = 0.0,
             retry: float = 10.0, limit: float = 5.0) -> tuple[GateTimed, list[str], list[str]]:
    """A tracker following call-01 (prerecorded, ``limit`` seconds), the picture taken; the
    events up to the called party's Hangup, and the calling legs' events held after it."""
    tracker = GateTimed(TrackerSettings(grace_s=grace, retry_s=retry), report=written(reports))
    events = lab_events(CALL_01)
    before = [e for e in events if e]
    cut = next(i for i, e in enumerate(before)
               if parse(e).get("Event") == "Hangup" and parse(e).get("Channel") == CALLED_01)
    held = [e for e in before[cut + 1:] if parse(e).get("Channel")]
    tracker.follow_when_asked(Followed("decision-1", linkedid_of(events), "c", "prerecorded",
                                       limit, UTAH, "+4930123456", 0.0), events)
    tracker.disconnected(0.0)
    tracker.reconcile([], 0.0)
    return tracker, before[:cut + 1], held


def _feed(tracker: GateTimed, events: list[str], now: float) -> list:
    """Fed at ``now``; each Hangup decided is taken as sent then (``hangup_sent``)."""
    effects = []
    for event in events:
        for effect in tracker.feed(parse(event), now):
            effects.append(effect)
            if isinstance(effect, HangupChannel):
                tracker.hangup_sent(effect.linkedid, now, effect.channel)
    return effects


def _due(tracker: GateTimed, now: float) -> list:
    effects = tracker.due(now)
    for effect in effects:
        if isinstance(effect, HangupChannel):
            tracker.hangup_sent(effect.linkedid, now, effect.channel)
    return effects


def _hangups(effects: list) -> list[tuple[str, int]]:
    return sorted((e.channel, e.attempt) for e in effects if isinstance(e, HangupChannel))


def _release(reports: list[tuple[str, dict]]) -> list[dict]:
    return [fields for name, fields in reports if name == "line-release"]


def test_a_duplicate_within_the_grace_does_not_move_the_release():
    """The called party hangs up at 1 s, the grace is 2 s; its Hangup read again at 2.5 s
    left the release due at 4.5 s, not 3 s (main: nothing due at 3 s)."""
    reports: list[tuple[str, dict]] = []
    tracker, before, _held = _tracker(reports, grace=2.0)
    assert _hangups(_feed(tracker, before, 1.0)) == []  # the transfer variables read
    assert _feed(tracker, before[-1:], 2.5) == []
    assert _hangups(tracker.due(2.9)) == []
    assert _hangups(tracker.due(3.0)) == [(name, 1) for name in CALLER_01]


def test_a_duplicate_after_the_hangups_were_decided_decides_none():
    """Hangups decided at 1 s (retry 10 s); the duplicate at 1.5 s sends none (main: two,
    attempt 2 at once, and the retry moved to 11.5 s); the retry comes at 11 s."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    assert _hangups(_feed(tracker, before, 1.0)) == [(name, 1) for name in CALLER_01]
    assert _feed(tracker, before[-1:], 1.5) == []
    assert _hangups(_due(tracker, 10.9)) == []
    assert _hangups(_due(tracker, 11.0)) == [(name, 2) for name in CALLER_01]
    _feed(tracker, held, 12.0)
    record = _release(reports)[0]
    assert record["hangups_sent"] == dict.fromkeys(CALLER_01, 2)
    assert record["release_ms"] == pytest.approx(11_000)
    assert record["within_limit"] is False


def test_a_duplicate_of_each_hangup_in_the_call():
    """Every Hangup of call-01 read twice, the called party's and each calling leg's: the
    same record as read once — the release timed from the called party's first Hangup,
    one Hangup per calling leg, one record."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    doubled = [d for e in before for d in ([e, e] if parse(e).get("Event") == "Hangup"
                                           else [e])]
    assert _hangups(_feed(tracker, doubled, 1.0)) == [(name, 1) for name in CALLER_01]
    effects = []
    for i, event in enumerate(held):
        effects += _feed(tracker, [event], 3.0 + i / 100)
        if parse(event).get("Event") == "Hangup":
            effects += _feed(tracker, [event], 3.5 + i / 100)  # the caller leg's, again
    assert effects == []
    [record] = _release(reports)
    assert record["hangups_sent"] == dict.fromkeys(CALLER_01, 1)
    assert record["first_action_ms"] == 0
    assert record["within_limit"] is True
    assert tracker.calls == {}


def test_a_duplicate_after_the_record_was_written():
    """The call ended and its record written: a duplicate of the called party's Hangup and
    of each calling leg's changes nothing, and makes no call."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    _feed(tracker, before, 1.0)
    _feed(tracker, held, 2.0)
    assert len(_release(reports)) == 1
    assert tracker.calls == {}
    again = [e for e in before + held if parse(e).get("Event") == "Hangup"]
    assert _feed(tracker, again, 9.0) == []
    assert tracker.due(30.0) == []
    assert len(_release(reports)) == 1
    assert tracker.calls == {}


def test_a_duplicate_routed_by_linkedid_to_another_call():
    """A channel of another call (SYNTHESISED from call-01's own events: its Linkedid moved
    to call-01's, as a bridge gives every member the oldest) hangs up while call-01 talks:
    its Hangup goes to the call it was created in (``_holder``). Its duplicate, the holder
    gone, went to call-01 by Linkedid and was taken for the call's first hangup, by a
    person off the called party's side: the called party's own hangup then released
    nothing, recorded as the caller's (main: no Hangup sent)."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports, limit=25.0)
    linkedid = linkedid_of(lab_events(CALL_01))
    new = next(parse(e) for e in before if parse(e).get("Event") == "Newchannel")
    other = {"Channel": "PJSIP/agent-0000000a", "Uniqueid": "1795326249.7",
             "Linkedid": "1795326249.7"}
    hangup = next(parse(e) for e in before if parse(e).get("Event") == "Hangup")
    gone = dict(hangup, **dict(other, Linkedid=linkedid))
    answered = next(i for i, e in enumerate(before) if parse(e).get("Event") == "BridgeEnter")
    for event in before[:answered + 2]:
        tracker.feed(parse(event), 1.0)
    assert tracker.feed(dict(new, **other), 1.0) == []
    assert tracker.feed(gone, 1.5) == []
    assert tracker.feed(gone, 1.6) == []
    assert tracker.calls[linkedid].first_hangup is None
    assert _hangups(_feed(tracker, before[answered + 2:], 2.0)) == [
        (name, 1) for name in CALLER_01]
    _feed(tracker, held, 2.5)
    [record] = _release(reports)
    assert record["within_limit"] is True
    assert record["release_ms"] == pytest.approx(500)


def test_a_uniqueid_given_again_to_a_new_channel_counts_again():
    """An id a client chose (Originate ``ChannelId``) given to a new channel once the first
    is gone: call-01 run twice with the same Uniqueids (SYNTHESISED) — the second run's
    Hangups are no duplicates, its line is released and recorded."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    _feed(tracker, before, 1.0)
    _feed(tracker, held, 2.0)
    tracker.follow_when_asked(Followed("decision-2", linkedid_of(before), "c", "prerecorded",
                                       5.0, UTAH, "+4930123456", 10.0), before)
    assert _hangups(_feed(tracker, before, 11.0)) == [(name, 1) for name in CALLER_01]
    _feed(tracker, held, 12.0)
    assert [r["decision_id"] for r in _release(reports)] == ["decision-1", "decision-2"]
    assert tracker.calls == {}


def test_a_uniqueid_a_picture_lists_again_counts_again():
    """A picture lists a channel whose Hangup was read (an id given again, SYNTHESISED):
    it is alive, and its own Hangup then ends its call."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    _feed(tracker, before, 1.0)
    _feed(tracker, held, 2.0)
    item = {"Event": "CoreShowChannel", "Channel": "PJSIP/agent-0000000b",
            "Uniqueid": "1795326250.2", "Linkedid": "1795326250.2", "ChannelState": "6",
            "Application": "Playback"}
    tracker.disconnected(3.0)
    tracker.reconcile([item], 4.0)
    assert "1795326250.2" in tracker.calls
    hangup = dict(next(parse(e) for e in before if parse(e).get("Event") == "Hangup"),
                  Channel=item["Channel"], Uniqueid=item["Uniqueid"], Linkedid=item["Linkedid"])
    tracker.feed(hangup, 5.0)
    assert tracker.calls == {}


def test_called_party_gone_again_keeps_the_first_hangup():
    """``_called_party_gone`` asked again for a hangup already counted (a release under
    way): the release stays timed from the first, nothing decided anew (main: the clock
    set to 6.5 s, two Hangups attempt 2 at once)."""
    reports: list[tuple[str, dict]] = []
    tracker, before, held = _tracker(reports)
    _feed(tracker, before, 1.0)
    call = tracker.calls[linkedid_of(before)]
    assert tracker._called_party_gone(call, 6.5, 6.5) == []
    assert call.called_hangup_at == 1.0
    _feed(tracker, held, 7.0)
    [record] = _release(reports)
    assert record["release_ms"] == pytest.approx(6000)
    assert record["within_limit"] is False
