"""Reviewer hrev16: a call that went on, the called party hanging up within a second.

hwat13's rule (``_dest_left``) takes the called party leaving its own Dial() bridge first,
the dialer's channel still in it and nothing dissolving it, for its ending a call that went
on after the agent hung up — but only ``went_on_after_s`` (1 s) after the agent went:
sooner it may be the race of a teardown (the dialer's Local pair hanging up a few ms behind
the agent, core_unreal.c ``ast_unreal_hangup``). A goodbye said by both is exactly that
race in time: the agent and the customer hang up within a second. With ``g`` on the
dialer's Dial()s (app_dial.c ``dial_exec_full``: OPT_GO_ON and the dialling channel not
hung up → ``res = 0``, it goes on in dialplan — ``;1`` to a survey, ``;2`` to its
post-call steps) nothing tears the call down: on 9b0d214 nothing was hung up, ever, no
violation risk was written, and the record said "caller" (47 CFR 64.1200(a)(6);
Utah Code 13-25a-103(5)(e)).

Told apart by what follows, not by the clock alone: in a teardown the dialer's channels
hang up on their own; a call that went on keeps them up. Within the window the release
waits ``went_on_after_s`` after the called party's hangup and goes only to what is still
up then.

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
    _customer_answered,
    _hangup,
)


def _run(events: list[tuple[float, dict[str, str]]], *, grace_s: float = 0.0,
         ) -> tuple[list[tuple[str, dict]], list[tuple[float, HangupChannel]], float]:
    """The call up to the agent's hangup (0.1 s apart), then ``events`` at their offsets
    from the agent's Hangup; ``due`` every 0.05 s to 15 s later. A channel callguard hangs
    up that is still up hangs up 0.05 s later. Returns the records, the Hangups sent with
    their instants, and the instant of the agent's Hangup."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(grace_s=grace_s),
                          report=lambda n, **f: reports.append((n, f)))
    effects: list[tuple[float, object]] = []
    before = [*_customer_answered(), *_agent_by_dial()]
    agent_gone = 10.0 + (len(before) - 2) * 0.1  # the agent's Hangup
    for i, event in enumerate(before):
        at = 10.0 + i * 0.1
        effects += [(at, e) for e in tracker.feed(event, at)]
        if i == 6:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    timeline = sorted(((agent_gone + offset, event) for offset, event in events),
                      key=lambda item: item[0])
    at = 10.0 + (len(before) - 1) * 0.1
    gone: set[str] = set()
    ids = {ONE: ONE_ID, TWO: TWO_ID}
    while at < agent_gone + 15.0:
        at = round(at + 0.05, 3)
        while timeline and timeline[0][0] <= at:
            _, event = timeline.pop(0)
            if event.get("Event") == "Hangup":
                gone.add(event["Channel"])
            effects += [(at, e) for e in tracker.feed(event, at)]
        new = tracker.due(at)
        effects += [(at, e) for e in new]
        for effect in new:
            if isinstance(effect, HangupChannel) and effect.channel not in gone:
                gone.add(effect.channel)
                timeline.append((at + 0.05, _hangup(effect.channel, ids[effect.channel])))
        timeline.sort(key=lambda item: item[0])
    return (reports, [(t, e) for t, e in effects if isinstance(e, HangupChannel)],
            agent_gone)


def _release(reports: list[tuple[str, dict]]) -> dict:
    [record] = [f for n, f in reports if n == "line-release"]
    return record


def _bye(offset: float) -> list[tuple[float, dict[str, str]]]:
    """The customer's BYE ``offset`` s after the agent's Hangup: its own BridgeLeave
    first, then its Hangup; the dissolve pushes ``;2`` out after it."""
    return [(offset, _bridge("BridgeLeave", DIAL, CUSTOMER, CUSTOMER_ID)),
            (offset + 0.01, _hangup(CUSTOMER, CUSTOMER_ID)),
            (offset + 0.02, _bridge("BridgeLeave", DIAL, TWO, TWO_ID))]


def test_a_goodbye_within_a_second_in_a_call_that_went_on_is_released():
    """Both say goodbye: the customer hangs up 0.3 s after the agent. ``;1`` plays its
    survey to nobody, ``;2`` (``g``) runs on: the called party hung up and the dialer
    holds the call — released within 64.1200(a)(6)'s 5 s, recorded "called-party". Fails
    on 9b0d214: nothing hung up, "caller"."""
    reports, hangups, agent_gone = _run(_bye(0.3))
    assert sorted({e.channel for _, e in hangups}) == [ONE, TWO]
    hung_at = agent_gone + 0.31
    first = min(t for t, _ in hangups)
    assert first - hung_at < 5.0
    assert first - hung_at <= 1.0 + 0.06  # went_on_after_s after the hangup, no later
    record = _release(reports)
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_ms"] < 5000


def test_a_teardown_slower_than_the_events_is_still_not_hung_up():
    """No ``g``: the customer's BYE 0.1 s after the agent's hangup, the dialer's pair
    hanging up 0.6 s after it (a busy Asterisk): what goes on its own within the wait gets
    no Hangup from callguard, and the record says "caller", as on 9b0d214."""
    reports, hangups, _ = _run([*_bye(0.1)[:2],
                             (0.6, _hangup(ONE, ONE_ID)),
                             (0.62, _bridge("BridgeLeave", DIAL, TWO, TWO_ID)),
                             (0.63, _hangup(TWO, TWO_ID))])
    assert hangups == []
    assert _release(reports)["ended_by"] == "caller"


def test_only_what_is_still_up_after_the_wait_is_hung_up():
    """``;1`` went on its own within the wait (its survey ended), ``;2`` stays up (``g``):
    only ``;2`` is hung up."""
    reports, hangups, _ = _run([*_bye(0.3), (0.5, _hangup(ONE, ONE_ID))])
    assert sorted({e.channel for _, e in hangups}) == [TWO]
    assert _release(reports)["ended_by"] == "called-party"


def test_with_a_grace_past_the_wait_the_grace_decides():
    """A grace of 3 s (under 64.1200(a)(6)'s 5 s): the release goes at the grace, as for a
    called party hanging up first."""
    reports, hangups, agent_gone = _run(_bye(0.3), grace_s=3.0)
    first = min(t for t, _ in hangups)
    assert 3.0 - 0.06 <= first - (agent_gone + 0.31) < 5.0
    assert _release(reports)["ended_by"] == "called-party"
