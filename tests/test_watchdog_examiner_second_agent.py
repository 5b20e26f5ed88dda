"""Examiner hast14: the teardown race is timed from the LAST agent's going, not the first.

``went_on_after_s`` (1 s) tells the race of a teardown from a call that went on
(``_dest_left``): the customer's BYE a few ms after the agent's hangup, before the
dialer's Local pair (core_unreal.c ``ast_unreal_hangup``) left the customer's bridge,
proves nothing went on. It was timed from ``off_side_at``, set when a person off the
called party's side FIRST left or hung up, and never again.

A call that went on once goes on to a second agent: ``;1`` Dial(agent7,,g) — the first
agent hangs up, app_dial.c ``dial_exec_full`` (OPT_GO_ON, the dialling channel not hung
up) returns 0 and ``;1`` goes on in dialplan — to Dial(agent8) without ``g``. When the
second agent hangs up, the pair tears the call down as for one agent; the customer's BYE
in that race is no "went on". Timed from the first agent's hangup a minute before, it was
taken for the called party ending a call that went on: callguard sent Hangups to the
dialer's pair (going anyway) and recorded "called-party" — where the calling side
(the second agent) ended the call, as it records for the one-agent race
(``test_watchdog_examiner_went_on_race``).

SYNTHESISED events (said here), in the layout of ``test_watchdog_examiner_went_on``.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, HangupChannel, TrackerSettings
from tests.test_watchdog_examiner_went_on import (
    CALL,
    CUSTOMER,
    CUSTOMER_ID,
    DIAL,
    ONE,
    ONE_ID,
    TWO,
    TWO_ID,
    UTAH,
    _agent_by_dial,
    _bridge,
    _ch,
    _customer_answered,
    _hangup,
)

SECOND, SECOND_ID = "PJSIP/agent8-0000002d", "1795326441.85"
AGENTS2 = "b6-agent"


def _second_agent() -> list[dict[str, str]]:
    """``;1`` goes on (``g``) to Dial(agent8): it answers and talks with the customer."""
    return [
        {"Event": "Newchannel", **_ch(SECOND, SECOND_ID, "0")},
        {"Event": "DialBegin", **_ch(ONE, ONE_ID), "DestChannel": SECOND,
         "DestUniqueid": SECOND_ID, "DestLinkedid": CALL, "DialString": "agent8"},
        {"Event": "DialEnd", **_ch(ONE, ONE_ID), "DestChannel": SECOND,
         "DestUniqueid": SECOND_ID, "DestLinkedid": CALL, "DialStatus": "ANSWER"},
        _bridge("BridgeEnter", AGENTS2, ONE, ONE_ID),
        _bridge("BridgeEnter", AGENTS2, SECOND, SECOND_ID),
    ]


def _run(tail: list[tuple[float, dict[str, str]]],
         ) -> tuple[list[tuple[str, dict]], list[HangupChannel]]:
    """The call to the first agent's hangup (0.1 s apart), the second agent 10 s later,
    then ``tail`` at its offsets (s) after the second agent answered (``due`` every
    0.05 s to 15 s after the tail)."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    sent: list[HangupChannel] = []
    at = 10.0
    for i, event in enumerate([*_customer_answered(), *_agent_by_dial()]):
        at = 10.0 + i * 0.1
        tracker.feed(event, at)
        if i == 6:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    for event in _second_agent():
        at += 10.0 / len(_second_agent())
        tracker.feed(event, at)
    start = at
    timeline = sorted(((start + offset, event) for offset, event in tail),
                      key=lambda item: item[0])
    end = start + max(offset for offset, _ in tail) + 15.0
    gone: set[str] = set()
    ids = {ONE: ONE_ID, TWO: TWO_ID}
    while at < end:
        at = round(at + 0.05, 3)
        while timeline and timeline[0][0] <= at:
            event = timeline.pop(0)[1]
            if event.get("Event") == "Hangup":
                gone.add(event["Channel"])
            sent += [e for e in tracker.feed(event, at) if isinstance(e, HangupChannel)]
        new = [e for e in tracker.due(at) if isinstance(e, HangupChannel)]
        sent += new
        for effect in new:  # a channel callguard hangs up goes 0.05 s later
            if effect.channel not in gone:
                gone.add(effect.channel)
                timeline.append((at + 0.05, _hangup(effect.channel, ids[effect.channel])))
        timeline.sort(key=lambda item: item[0])
    return reports, sent


def _release(reports: list[tuple[str, dict]]) -> dict:
    [record] = [f for n, f in reports if n == "line-release"]
    return record


def _second_agent_hangs_up(at: float) -> list[tuple[float, dict[str, str]]]:
    """The second agent's hangup: its bridge dissolves, ``;1`` (no ``g`` now) is kicked."""
    return [(at, _bridge("BridgeLeave", AGENTS2, SECOND, SECOND_ID)),
            (at + 0.01, _hangup(SECOND, SECOND_ID)),
            (at + 0.02, _bridge("BridgeLeave", AGENTS2, ONE, ONE_ID))]


def test_a_bye_in_the_race_of_the_second_agents_teardown_is_the_callers_end():
    """The second agent hangs up 60 s in; the customer's BYE 0.05 s later, before the
    pair's teardown (``;1`` hangs up, ``;2`` leaves the customer's bridge 0.1 s after):
    nothing is hung up by callguard and the record says "caller". Fails before: Hangups
    to both halves, "called-party"."""
    reports, sent = _run([
        *_second_agent_hangs_up(60.0),
        (60.05, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
        (60.06, _hangup(CUSTOMER, CUSTOMER_ID)),
        (60.1, _hangup(ONE, ONE_ID)),
        (60.12, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
        (60.13, _hangup(TWO, TWO_ID))])
    assert sent == []
    assert _release(reports)["ended_by"] == "caller"


def test_control_the_customer_hanging_up_after_the_second_agent_is_released():
    """``;1`` goes on after the second agent too (its survey): the customer hangs up 20 s
    later — released within 64.1200(a)(6)'s 5 s, "called-party"."""
    reports, sent = _run([
        *_second_agent_hangs_up(60.0),
        (80.0, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
        (80.01, _hangup(CUSTOMER, CUSTOMER_ID)),
        (80.2, _hangup(ONE, ONE_ID)),
        (80.22, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
        (80.23, _hangup(TWO, TWO_ID))])
    assert {e.channel for e in sent} == {ONE, TWO}
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] < 5000


def test_control_a_goodbye_said_by_both_after_the_second_agent_is_released():
    """``;1`` goes on after the second agent (``g`` again): the customer's BYE 0.3 s after
    the agent's, the pair stays up: released after the 1 s wait, "called-party"."""
    reports, sent = _run([
        *_second_agent_hangs_up(60.0),
        (60.3, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
        (60.31, _hangup(CUSTOMER, CUSTOMER_ID))])
    assert {e.channel for e in sent} == {ONE, TWO}
    assert _release(reports)["ended_by"] == "called-party"
