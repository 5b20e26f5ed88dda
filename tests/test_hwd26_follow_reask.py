"""Helper hwd26: an automated call whose CALLGUARD_FOLLOW read comes back unread is
asked once more, and watched.

After a watchdog restart, a main-session reconnect or a standby's takeover, a call the
picture lists carrying no ChanVariable (manager.conf without ``channelvars``) is found
again only by a ``Getvar`` of CALLGUARD_FOLLOW on each of its channels (``_resume``). A
read answered with nothing (None: the action timed out, the read session was in its
backoff, or "No such channel" came ahead of a Hangup event) was dropped: when every
carrier's read was None the call was never followed, its called party's hangup released
nothing and wrote nothing (hrev130). The DIALSTATUS read had a retry
(``_ask_status_again``); this one had none.

Now each unanswered follow read is asked once more after ``retry_s`` while AMI is up
(``_ask_follow_again``); unanswered again, the tracker says so (``follow_unread``: a
``watchdog_follow_unread`` warning and a count in the node's metrics, in ``ami.py``).
A called party that hangs up while the read is unanswered is remembered: the late value
times the release from that Hangup, not from the late answer.

The dialer's Local pair: ``;2`` asked the gate and Dial()ed the customer, whose AppDial
leg inherits ``__CALLGUARD_FOLLOW`` (app_dial.c ``dial_exec_full``,
``ast_channel_inherit_variables``); ``;1`` carries nothing. Synthetic events and read
answers; pure tracker, synthetic clock (the socket test over the lab's call-01 is in
``test_hwd26_follow_reask_ami.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_watchdog import NUMBER, carried, written

CALL = "1795500000.20"
ONE, TWO = "Local/s@dialer-00000021;1", "Local/s@dialer-00000021;2"
CUSTOMER = "PJSIP/itsp-0000003a"
IDS = {ONE: CALL, TWO: "1795500000.21", CUSTOMER: "1795500000.22"}
VALUE = carried(decision="d-hwd26-reask")
CARRIERS = {TWO, CUSTOMER}
ALLOWED = "+18015550123@itsp"
READS = {(TWO, "DIALEDPEERNUMBER"): ALLOWED, (CUSTOMER, "DIALEDPEERNUMBER"): ALLOWED}
FOLLOW = "CALLGUARD_FOLLOW"

# How each follow read is answered, read by read: None unread, "" unset, else the value.
Answers = Callable[[str, int], "str | None"]


def _item(name: str, app: str, bridge: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": bridge,
            "Duration": "00:01:00"}


def _event(kind: str, name: str, bridge: str = "") -> dict[str, str]:
    event = {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
             "ChannelState": "6"}
    if bridge:
        event.update(BridgeUniqueid=bridge, BridgeType="basic")
    else:
        event["Cause"] = "16"
    return event


class _NONE:  # a call no longer held: no channel
    channels: dict[str, str] = {}  # noqa: RUF012


_CUSTOMER_HANGS_UP = [_event("BridgeLeave", CUSTOMER, "b-d"), _event("Hangup", CUSTOMER)]


class _Run:
    """Restart (an outage from 50.0 to 80.0), the picture, reads answered by ``answers``
    at once; ``tail`` events 0.1 s apart from ``tail_at``; ``due`` every 0.1 s to 6 s."""

    def __init__(self, answers: Answers, *, tail: list[dict[str, str]] | None = None,
                 tail_at: float = 0.05, away: tuple[float, float] | None = None,
                 digest: bool = False) -> None:
        self.reports: list[tuple[str, dict]] = []
        self.warned: list[tuple[str, dict]] = []
        self.digest = digest
        self.tracker = CallTracker(TrackerSettings(number_lookup_s=1.0 if digest else 0.0),
                                   report=written(self.reports))
        self.tracker.warn = lambda name, **fields: self.warned.append((name, fields))
        self.hung: list[tuple[str, float]] = []
        self.asked: list[tuple[str, float]] = []  # follow reads: (channel, when answered)
        self.answers = answers
        self.now = 80.0
        self.tracker.disconnected(50.0)
        self.settle(self.tracker.reconcile(
            [_item(CUSTOMER, "AppDial", "b-d"), _item(TWO, "Dial", "b-d"),
             _item(ONE, "Wait", "")], self.now))
        tail = list(tail or [])
        start = self.now
        while self.now < start + 6.0:
            self.now += 0.1
            if away is not None and abs(self.now - (start + away[0])) < 0.05:
                self.tracker.disconnected(self.now)
            if tail and self.now >= start + tail_at:
                self.settle(self.tracker.feed(tail.pop(0), self.now))
            self.settle(self.tracker.due(self.now))

    def settle(self, effects: list) -> None:
        while effects:
            done, effects = effects, []
            for effect in done:
                self.now += 0.001
                if isinstance(effect, HangupChannel):
                    self.hung.append((effect.channel, self.now))
                    effects += self.tracker.feed(_event("Hangup", effect.channel), self.now)
                elif isinstance(effect, ReadVariable):
                    value: str | None = READS.get((effect.channel, effect.variable), "")
                    if effect.channel not in self.tracker.calls.get(
                            effect.linkedid, _NONE).channels.values():
                        value = None  # "No such channel" (lab call-08)
                    if effect.variable == FOLLOW:
                        value = self.answers(effect.channel,
                                             sum(1 for c, _ in self.asked if c == effect.channel))
                        self.asked.append((effect.channel, self.now))
                    effects += self.tracker.variable_read(effect.linkedid, effect.channel,
                                                          effect.variable, value, self.now)
                elif isinstance(effect, FindNumber):
                    effects += self.tracker.number_found(
                        effect.linkedid, effect.decision_id,
                        plain_digest(NUMBER) if self.digest else None, self.now)

    def named(self, name: str) -> list[dict]:
        return [fields for kind, fields in self.reports if kind == name]


def _carriers(first: str | None, then: str | None = VALUE) -> Answers:
    """Each carrier's first follow read answered ``first``, later ones ``then``."""
    def answer(channel: str, before: int) -> str | None:
        if channel not in CARRIERS:
            return ""
        return first if before == 0 else then
    return answer


def test_control_answered_at_once_followed_and_released() -> None:
    run = _Run(_carriers(VALUE), tail=_CUSTOMER_HANGS_UP)
    assert {c for c, _ in run.hung} == {ONE, TWO}
    assert [c for c, _ in run.asked].count(TWO) == 1  # nothing asked twice
    assert run.warned == []


def test_unread_once_then_read_the_call_is_followed_and_released() -> None:
    """Every carrier's follow read unanswered (None), its re-ask answered: the call is
    followed and the customer's hangup releases the dialer's pair."""
    run = _Run(_carriers(None), tail=_CUSTOMER_HANGS_UP, tail_at=1.0)
    assert [c for c, _ in run.asked].count(TWO) == 2  # the value: nothing more asked
    second = [t for c, t in run.asked if c == TWO][1]
    assert 80.5 <= second < 81.0  # retry_s after the first
    assert {c for c, _ in run.hung} == {ONE, TWO}
    [record] = run.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["followed_again"] is True
    assert run.warned == []


def test_unread_twice_is_said_and_counted_not_crashed() -> None:
    """Asked again and unanswered again: nothing to follow, but the tracker says so
    (a warning naming no number, counted), once per call."""
    run = _Run(_carriers(None, None), tail=_CUSTOMER_HANGS_UP, tail_at=1.0)
    assert [c for c, _ in run.asked].count(TWO) == 2  # once more, not for ever
    assert run.hung == []
    [(name, fields)] = run.warned
    assert name == "watchdog_follow_unread"
    assert fields["linkedid"] == CALL
    assert fields["unread"] == 2
    assert "8015550123" not in str(run.warned)
    assert run.named("line-release") == []


def test_unset_is_an_answer_nothing_asked_again() -> None:
    """"" is "not set" (manager.c ``action_getvar``: ``S_OR(varval, "")``): no re-ask,
    no warning — most calls of a PBX are not automated calls."""
    run = _Run(lambda channel, before: "")
    assert len(run.asked) == 3  # one read per channel
    assert run.warned == []


def test_no_re_ask_while_ami_is_away() -> None:
    """AMI goes away before the re-ask is due: nothing is sent into the outage (the next
    picture asks anew, ``reconcile``), nothing said unread."""
    run = _Run(_carriers(None), away=(0.2, 0.0))
    assert [c for c, _ in run.asked].count(TWO) == 1
    assert run.warned == []


@pytest.mark.parametrize("digest", [False, True], ids=["no-digest", "digest"])
def test_a_hangup_while_unread_times_the_release_from_the_hangup(digest: bool) -> None:
    """The customer hangs up between the unanswered read and its re-ask (which then
    answers): the release is timed from that Hangup, seen exactly, not from the late
    answer, nor bounded by the whole outage (30 s here, past Utah's 25 s). With the
    number's digest found in the record, the customer's gone leg is checked first."""
    run = _Run(_carriers(None), tail=_CUSTOMER_HANGS_UP, tail_at=0.2, digest=digest)
    hangup_at = 80.0 + 0.3  # the second event of the tail (its Hangup)
    assert {c for c, _ in run.hung} == {ONE, TWO}
    [record] = run.named("line-release")
    assert record["ended_by"] == "called-party"
    first_hung = min(t for _, t in run.hung)
    assert abs(record["release_ms"] - (first_hung - hangup_at) * 1000) < 150
    assert record.get("release_ms_is_upper_bound") is not True
    assert run.named("violation-risk") == []
