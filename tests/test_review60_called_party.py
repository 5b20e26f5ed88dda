"""Review 60: after a restart, the called party alive under another name is not hung up.

Synthetic shapes on the pure tracker, synthetic clock; the picture is the one of
``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real Asterisk 22.10.1): the
asking leg's ``Dial(Local/<number>@outbound)`` answered, the Local pair optimised away
(core_unreal.c ``got_optimized_out`` -> bridge.c ``ast_bridge_unreal_optimize_out``), the
called party's ``PJSIP/itsp-…`` leg redirected to a queue while AMI was away, the asking
leg back in its dialplan (``Wait``). DIALEDPEERNAME names the Local ``;1``, gone.
"""

from __future__ import annotations

from callguard.watchdog.calls import (
    CallTracker,
    Followed,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    dialled_numbers,
    plain_digest,
)
from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_watchdog import CALLER_01, NUMBER, UTAH, written


def _settle(tracker: CallTracker, todo: list, values: dict[tuple[str, str], str],
            now: float) -> tuple[list, float]:
    """Answer every read as Getvar would, in the order asked (one AMI session answers its
    actions in order); an unset variable: empty."""
    effects = list(todo)
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable,
                                          values.get((read.channel, read.variable), ""), now)
        effects += todo
    return effects + tracker.due(now + 1.0), now + 1.0


def _hung_up(effects: list) -> set[str]:
    return {e.channel for e in effects if isinstance(e, HangupChannel)}


def _tracker() -> tuple[CallTracker, list[tuple[str, dict]]]:
    """A tracker whose gate allowed the call while AMI was away (its follow pending, with
    the asking channel and the number's digest)."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    followed = Followed(f"d-{LINKEDID}", LINKEDID, "c", "predictive", 25.0, UTAH, "+1",
                        asker=CALLER_01[0], number_hash=plain_digest(NUMBER))
    for read in tracker.follow(followed):  # AMI away: Getvar answers nothing
        tracker.variable_read(read.linkedid, read.channel, read.variable, None, 51.0)
    return tracker, reports


def _without_channelvars() -> list[dict[str, str]]:
    return [{k: v for k, v in item.items() if k != "ChanVariable"} for item in _picture()]


def test_without_channelvars_the_called_party_in_a_queue_is_not_hung_up():
    """manager.conf without ``channelvars``: no picture item names a carrier, so hrev56's
    question (49a5404) goes to the asking leg alone. Its ANSWER names the Local ``;1``,
    gone; the called party's own DIALEDPEERNUMBER, which says it is the called party
    (400c2bd), was never asked — it is asked only of carriers — and the called party,
    waiting in the queue, was hung up with the rest."""
    tracker, _ = _tracker()
    todo = tracker.reconcile(_without_channelvars(), 80.0)
    effects, _ = _settle(tracker, todo, VALUES, 80.0)
    assert CUSTOMER not in _hung_up(effects)
    assert tracker.calls[LINKEDID].dest == CUSTOMER


FORMATTED = "801-555-0123"  # the gate takes it (numbers/parse.py: - . ( ) / and spaces)


def test_a_number_dialled_with_separators_is_the_number_allowed():
    """The shipped [callguard-dial] dials ``PJSIP/${ARG1}@trunk`` with the very ARG1 the gate
    parsed, which may be written with separators; app_dial.c ``dial_exec_full`` sets each
    leg's DIALEDPEERNUMBER to that resource as written."""
    for written_as in ("801-555-0123@itsp", "(801) 555-0123@itsp", "+1 801 555 0123@itsp",
                       "801.555.0123@itsp", "1/801/555/0123@ctx"):
        assert NUMBER in dialled_numbers(written_as), written_as
    assert NUMBER in dialled_numbers("8015550123/4567890")  # a run is kept as it was too


def test_with_separators_the_called_party_in_a_queue_is_not_hung_up_later():
    """The shape of ``test_review56_peer_gone``, the number dialled as the gate was asked
    with separators. Both DIALEDPEERNUMBERs read "another number": the asking leg was taken
    for the called party (``_not_the_number``: an Originate straight to the customer), and
    its hangup — the dialer's Local ``;1`` ending after its Wait — released the rest: the
    called party, alive in the queue, was hung up."""
    tracker, _ = _tracker()
    values = {**VALUES, (CALLER_01[0], "DIALEDPEERNUMBER"): f"{FORMATTED}@outbound",
              (CUSTOMER, "DIALEDPEERNUMBER"): f"{FORMATTED}@itsp"}
    todo = tracker.reconcile(_picture(), 80.0)
    effects, now = _settle(tracker, todo, values, 80.0)
    assert _hung_up(effects) == set()
    assert tracker.calls[LINKEDID].dest == CUSTOMER
    uniqueid = next(u for u, n in tracker.calls[LINKEDID].channels.items()
                    if n == CALLER_01[0])
    later = tracker.feed({"Event": "Hangup", "Channel": CALLER_01[0], "Linkedid": LINKEDID,
                          "Uniqueid": uniqueid, "ChannelState": "6", "Cause": "16"}, now + 5)
    later += tracker.due(now + 6)
    assert CUSTOMER not in _hung_up(later)


UNREADABLE = object()  # Getvar unanswered in action_timeout_ms (ami.py ``_getvar``: None)


def test_a_live_leg_whose_number_could_not_be_read_is_not_hung_up():
    """The shape of ``test_review56_peer_gone`` (channelvars on), the called party's own
    DIALEDPEERNUMBER unanswered (a Getvar timed out: Asterisk busy after a restart, every
    call's legs asked at once). Nothing said it was dialled elsewhere, yet the asking leg's
    ANSWER with its peer gone hung it up, alive in the queue, with the rest. Not hung up
    now; the release is said to be unproven."""
    tracker, reports = _tracker()
    values: dict = {**VALUES, (CUSTOMER, "DIALEDPEERNUMBER"): UNREADABLE}
    todo = tracker.reconcile(_picture(), 80.0)
    effects, now = list(todo), 80.0
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            value = values.get((read.channel, read.variable), "")
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable,
                                          None if value is UNREADABLE else value, now)
        effects += todo
    effects += tracker.due(now + 1.0)
    assert CUSTOMER not in _hung_up(effects)
    assert tracker.calls[LINKEDID].release_unproven
    [risk] = [fields for name, fields in reports if name == "violation-risk"]
    assert "DIALEDPEERNUMBER" in risk["reason"]


def test_control_a_live_leg_read_dialled_elsewhere_is_released():
    """Read, and dialled elsewhere (an agent): released, as before."""
    tracker, _ = _tracker()
    values = {**VALUES, (CUSTOMER, "DIALEDPEERNUMBER"): "agent"}
    effects, _ = _settle(tracker, tracker.reconcile(_picture(), 80.0), values, 80.0)
    assert {CALLER_01[0], CUSTOMER} <= _hung_up(effects)


def test_a_dial_status_unanswered_once_is_asked_again():
    """The calling leg left alone (``test_control_the_calling_leg_left_alone_is_released``),
    its first DIALSTATUS Getvar unanswered (a timeout): it was asked once per picture, so
    the called party's end while AMI was away was never read — nothing released, nothing
    said. Asked again once, ``retry_s`` later; answered ANSWER, the rest is released."""
    tracker, reports = _tracker()
    todo = tracker.reconcile([i for i in _picture() if i["Channel"] != CUSTOMER], 80.0)
    effects, now, unanswered = list(todo), 80.0, {(CALLER_01[0], "DIALSTATUS")}
    while reads := [r for r in todo if isinstance(r, ReadVariable)]:
        todo = []
        for read in reads:
            now += 0.01
            key = (read.channel, read.variable)
            value = None if key in unanswered else VALUES.get(key, "")
            unanswered.discard(key)
            todo += tracker.variable_read(LINKEDID, read.channel, read.variable, value, now)
        effects += todo
    assert not _hung_up(effects)
    again, _ = _settle(tracker, tracker.due(now + 1.0), VALUES, now + 1.0)
    assert CALLER_01[0] in _hung_up(again)
    assert "violation-risk" in [name for name, _ in reports]  # 30 s away, limit 25 s
