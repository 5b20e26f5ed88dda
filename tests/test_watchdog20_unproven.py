"""A release left unproven for want of a reading is decided again by a later good reading
(hwd20).

``_peer_unknown`` leaves a dialling leg's DIALSTATUS=ANSWER unreleased when a leg's
DIALEDPEERNUMBER went unread (a Getvar timeout): that leg may be the called party, alive.
The flag it set, ``release_unproven``, was final — ``_release_after_outage`` returned at
once for ever — so the retry's reading, or a later picture's, that read the leg fine could
not release the line: the rest stayed up past the limit (47 CFR 64.1200(a)(7); Utah Code
13-25a-103(5)(e)) with nothing more said. And the DIALSTATUS retry
(``_ask_status_again``) asked DIALEDPEERNAME and DIALSTATUS only, never the unread
DIALEDPEERNUMBER that had stopped the release. Persons left talking
(``_still_talking``) stay final: that is no reading.

Synthetic shapes on the pure tracker, synthetic clock, on the picture of
``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real Asterisk 22.10.1).
"""

from __future__ import annotations

from callguard.watchdog.calls import ReadVariable
from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_review60_called_party import _hung_up, _tracker
from tests.test_review65_called_party import _answer
from tests.test_watchdog import CALLER_01, NUMBER

ASKING = CALLER_01[0]
OWN_NUMBER = (ASKING, "DIALEDPEERNUMBER")
STATUS = (ASKING, "DIALSTATUS")


def _without_customer() -> list[dict[str, str]]:
    return [i for i in _picture() if i["Channel"] != CUSTOMER]


def _reads(effects: list) -> list[tuple[str, str]]:
    return [(r.channel, r.variable) for r in effects if isinstance(r, ReadVariable)]


def _hang_up_all(tracker, now: float) -> None:
    for uniqueid, name in sorted(tracker.calls[LINKEDID].channels.items()):
        now += 1.0
        tracker.feed({"Event": "Hangup", "Channel": name, "Linkedid": LINKEDID,
                      "Uniqueid": uniqueid, "ChannelState": "6", "Cause": "16"}, now)


def test_the_retry_reading_the_own_number_fine_releases_the_line():
    """The asking leg's own DIALEDPEERNUMBER timed out: nothing hung up (hrev65). Asked
    again ``retry_s`` later, it names the number: its Dial() reached the customer, whose
    leg is gone (DIALEDPEERNAME gone, no live leg names the number) — the rest released."""
    tracker, reports = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_without_customer(), 80.0), VALUES,
                           {OWN_NUMBER}, 80.0)
    assert not _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    again, now = _answer(tracker, tracker.due(now + 1.0), VALUES, set(), now + 1.0)
    assert OWN_NUMBER in _reads(again)
    again += tracker.due(now + 2.0)
    assert ASKING in _hung_up(again)
    _hang_up_all(tracker, now + 3.0)
    [record] = [f for name, f in reports if name == "line-release"]
    assert record["ended_by"] == "called-party"
    assert record.get("release_unproven") is None
    assert record["within_limit"] is False  # the risk written meanwhile stands
    assert [name for name, _ in reports].count("violation-risk") == 1


def test_a_later_pictures_good_reading_releases_the_line():
    """Unread at the picture and at its retry: unproven. AMI away again; the next
    picture reads it fine: the line is released then, not left up for ever."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_without_customer(), 80.0), VALUES,
                           {OWN_NUMBER}, 80.0)
    more, now = _answer(tracker, tracker.due(now + 1.0), VALUES, {OWN_NUMBER}, now + 1.0)
    more += tracker.due(now + 3.0)
    assert not _hung_up(effects + more)
    tracker.disconnected(now + 5.0)
    later, now = _answer(tracker, tracker.reconcile(_without_customer(), now + 20.0),
                         VALUES, set(), now + 20.0)
    later += tracker.due(now + 2.0)
    assert ASKING in _hung_up(later)


def test_the_status_retry_asks_the_unread_numbers_again_first():
    """DIALSTATUS and the asking leg's own DIALEDPEERNUMBER both timed out: the retry asks
    the number again, before the DIALSTATUS, and its good reading releases."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_without_customer(), 80.0), VALUES,
                           {OWN_NUMBER, STATUS}, 80.0)
    assert not _hung_up(effects)
    retry = tracker.due(now + 1.0)
    asked = _reads(retry)
    assert OWN_NUMBER in asked
    assert asked.index(OWN_NUMBER) < asked.index(STATUS)
    again, now = _answer(tracker, retry, VALUES, set(), now + 1.0)
    again += tracker.due(now + 2.0)
    assert ASKING in _hung_up(again)


def test_control_the_retry_naming_another_number_hangs_nobody_up():
    """Read again, the asking leg's number is another (an agent it Dial()ed): it is the
    customer of an Originate straight to it, alive (``_called_in_dialplan``)."""
    tracker, _ = _tracker()
    effects, now = _answer(tracker, tracker.reconcile(_without_customer(), 80.0), VALUES,
                           {OWN_NUMBER}, 80.0)
    again, now = _answer(tracker, tracker.due(now + 1.0),
                         {**VALUES, OWN_NUMBER: "201@agents"}, set(), now + 1.0)
    again += tracker.due(now + 2.0) + tracker.due(now + 40.0)
    assert not _hung_up(effects + again)
    assert tracker.calls[LINKEDID].dest == ASKING


def test_control_a_live_leg_read_naming_the_number_is_kept_up():
    """The customer's leg is up, its DIALEDPEERNUMBER unread first (``_called_leg_unread``);
    the retry reads it naming the number: it is the called party, alive — not hung up; its
    own hangup releases the rest."""
    tracker, _ = _tracker()
    customer = (CUSTOMER, "DIALEDPEERNUMBER")
    effects, now = _answer(tracker, tracker.reconcile(_picture(), 80.0), VALUES,
                           {customer}, 80.0)
    assert not _hung_up(effects)
    again, now = _answer(tracker, tracker.due(now + 1.0), VALUES, set(), now + 1.0)
    assert customer in _reads(again)
    again += tracker.due(now + 2.0) + tracker.due(now + 40.0)
    assert not _hung_up(again)
    assert tracker.calls[LINKEDID].dest == CUSTOMER
    uniqueid = next(u for u, n in tracker.calls[LINKEDID].channels.items() if n == CUSTOMER)
    gone = tracker.feed({"Event": "Hangup", "Channel": CUSTOMER, "Linkedid": LINKEDID,
                         "Uniqueid": uniqueid, "ChannelState": "6", "Cause": "16"},
                        now + 50.0)
    gone += tracker.due(now + 51.0) + tracker.due(now + 80.0)
    assert ASKING in _hung_up(gone)
    assert f"{NUMBER}@itsp" == VALUES[customer]
