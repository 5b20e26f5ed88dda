"""hrev100: a person hanging up while hwd23's second DIALEDPEERNUMBER read waits.

hwd23 (``CallTracker._check_again``) asks an unanswered read of the picture's AppDial leg
once more ``retry_s`` later and, meanwhile, keeps the call's check open. The customer of
``test_hwd23_number_again`` (waiting in Queue(), the agent's leg taken for the called party)
hanging up in those 0.5 s was read against a check still open: then the second read
answered "another number" (the customer was the called party) and the record said
``ended_by: caller`` with nothing hung up and no risk; or it went unanswered again and the
agent's later hangup was taken for the called party's, ``called-party`` proven, no risk.
Before hwd23 the first read decided at once: ``unknown (called party not proven)``,
``release_unproven`` and the risk (``_maybe_called_went_first``, hwd22). Now a Hangup of a
channel of the call while the second read waits decides on the first read, unread, as
the leg's own Hangup already did — never a called party's hangup recorded caller, never a
reading proven that was not.

The same held while a read is in flight (``_Late``: answered 0.5 s after it was asked), the
first read too — older than hwd23, whose second read adds a second such window: a person
running Dial() or Queue() of its own (``_dialler_unknown`` names it only once the read is
decided unread) hanging up meanwhile decides on what is read, as unread.

Synthetic events (those of ``test_hwd23_number_again``); pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import FindNumber, HangupChannel, ReadVariable, plain_digest
from tests.test_hrev81_queue_customer import (
    _CUSTOMER_HANGS_UP,
    AGENT,
    CUSTOMER,
    MEMBER_1,
    MEMBER_2,
)
from tests.test_hwd23_number_again import _AGENT_SIDE_HANGS_UP, _agent_number, _Run
from tests.test_watchdog import NUMBER


@pytest.mark.parametrize("answers", [[None, "agent7"], [None]],
                         ids=["second-read-answered", "unanswered-twice"])
def test_the_customers_hangup_during_the_wait_is_not_recorded_proven(answers):
    run = _Run(answers, [*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], pause=0.0)
    assert len(run.asked(_agent_number)) == 1  # decided then: no second read
    assert CUSTOMER not in run.hung
    [record] = run.of("line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True
    [risk] = run.of("violation-risk")
    assert "may be the called party, hung up first" in risk["reason"]


class _Late(_Run):
    """``_Run`` with the agent's DIALEDPEERNUMBER answered ``delay`` seconds after it was
    asked (Asterisk busy with a restart's reads; "No such channel", None, once the leg is
    gone): a Hangup can come while the read is in flight."""

    def __init__(self, answers: list[str | None], tail: list[dict[str, str]], *,
                 pause: float, delay: float) -> None:
        self.delay = delay
        self.in_flight: list[tuple[float, ReadVariable, str | None]] = []
        super().__init__(answers, tail, pause=pause)

    def tick(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.1
            due = [read for read in self.in_flight if read[0] <= self.now]
            self.in_flight = [read for read in self.in_flight if read[0] > self.now]
            for _, effect, value in due:
                self.settle(self.tracker.variable_read(
                    effect.linkedid, effect.channel, effect.variable, value, self.now))
            self.settle(self.tracker.due(self.now))

    def settle(self, effects: list) -> None:
        while effects:
            done, effects = effects, []
            for effect in done:
                self.now += 0.01
                if isinstance(effect, HangupChannel):
                    self.hung.add(effect.channel)
                elif isinstance(effect, FindNumber):
                    effects += self.tracker.number_found(
                        effect.linkedid, effect.decision_id, plain_digest(NUMBER), self.now)
                elif isinstance(effect, ReadVariable):
                    key = (effect.channel, effect.variable)
                    self.reads.append((self.now, *key))
                    if key != (AGENT, "DIALEDPEERNUMBER"):
                        effects += self.tracker.variable_read(
                            effect.linkedid, *key, self._answer(key), self.now)
                        continue
                    call = self.tracker.calls.get(effect.linkedid)
                    up = call is not None and AGENT in call.channels.values()
                    self.in_flight.append(
                        (self.now + self.delay, effect, self._answer(key) if up else None))


@pytest.mark.parametrize(("answers", "pause"), [(["agent7"], 0.0), ([None, "agent7"], 1.0)],
                         ids=["first-read-in-flight", "second-read-in-flight"])
def test_the_customers_hangup_while_a_read_is_in_flight_is_not_recorded_caller(answers,
                                                                               pause):
    """The customer hangs up while the agent's read is unanswered yet (0.5 s in flight),
    the agent's side 0.3 s later; the read then names another number. Before: ``caller``,
    nothing hung up, no risk — the customer, the called party, had ended the call."""
    run = _Late(answers, [*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], pause=pause, delay=0.5)
    assert CUSTOMER not in run.hung
    [record] = run.of("line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True
    [risk] = run.of("violation-risk")
    assert "may be the called party, hung up first" in risk["reason"]


def test_control_the_read_answered_before_the_customers_hangup_releases_the_agent():
    run = _Late(["agent7"], [*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], pause=1.0,
                delay=0.5)
    assert {MEMBER_1, MEMBER_2, AGENT} <= run.hung
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert not run.of("violation-risk")
