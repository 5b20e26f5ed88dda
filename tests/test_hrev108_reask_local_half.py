"""hrev108: a channel that cannot be the called party going while hwd23's second read waits.

hrev100 (94308a5) decides the check of the picture's AppDial leg at once, unread, when ANY
channel of the call hangs up while the second DIALEDPEERNUMBER read waits
(``CallTracker._check_again``). The reason it gives holds for the leg itself and for a
person who may be the called party (the customer in Queue()); it does not for a Local
half, never a person (``_NOT_A_PERSON``, ``_dialler_unknown`` leaves it out). The queue
member's Local pair optimising itself away (core_local.c: the agent's leg takes ``;1``'s
place in the customer's bridge, BridgeEnter ``SwapUniqueid``, then both halves hang up:
``_swapped``) in those 0.5 s settled the call unread: the second read, which would have
said the agent's leg was dialled elsewhere (the customer the called party), was never
sent, and the customer's later hangup released nothing — the agent's leg left up, a
violation risk, ``release_unproven`` — for a call Asterisk would have proven a moment
later.

The shape of ``test_hwd23_number_again`` (SYNTHESISED, said in
``test_hrev81_queue_customer``); pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import HangupChannel
from tests.test_hrev81_queue_customer import (
    _CUSTOMER_HANGS_UP,
    AGENT,
    CUSTOMER,
    IDS,
    MEMBER_1,
    MEMBER_2,
    _event,
)
from tests.test_hwd23_number_again import _agent_number
from tests.test_hwd23_number_again import _Run as _Hwd23Run

# The member's Local pair optimises away: the agent's leg leaves the member bridge and takes
# ;1's place in the customer's, then both halves go.
_OPTIMISED = [
    _event("BridgeLeave", AGENT, "b-m"),
    {**_event("BridgeEnter", AGENT, "b-q"), "SwapUniqueid": IDS[MEMBER_1]},
    _event("BridgeLeave", MEMBER_1, "b-q"), _event("Hangup", MEMBER_1),
    _event("BridgeLeave", MEMBER_2, "b-m"), _event("Hangup", MEMBER_2)]


class _Run(_Hwd23Run):
    """``_Run`` whose optimisation comes in one burst (0.1 s apart, the timer not run)
    and the customer's hangup 2 s later, and whose Asterisk ends a channel it is asked to
    hang up (its Hangup event)."""

    def __init__(self, answers: list[str | None], *, pause: float) -> None:
        self.gaps = [0.0] * (len(_OPTIMISED) - 1) + [2.0] + [0.3] * len(_CUSTOMER_HANGS_UP)
        super().__init__(answers, [*_OPTIMISED, *_CUSTOMER_HANGS_UP], pause=pause)

    def tick(self, seconds: float) -> None:
        # _Run's 0.3 s after each tail event: the gap before the next one instead
        super().tick(self.gaps.pop(0) if seconds == 0.3 and self.gaps else seconds)

    def settle(self, effects: list) -> None:
        hangups = [e for e in effects if isinstance(e, HangupChannel)]
        super().settle(effects)
        for effect in hangups:
            self.now += 0.01
            self.settle(self.tracker.feed(_event("Hangup", effect.channel), self.now))


def _released(run: _Run) -> dict:
    [record] = run.of("line-release")
    return record


def test_a_local_half_going_during_the_wait_leaves_the_second_read_to_decide():
    """Fails on main (8d2549d): one read; the customer's hangup hangs up nothing, the agent's
    leg left up, the release unproven."""
    run = _Run([None, "agent7"], pause=0.0)
    assert len(run.asked(_agent_number)) == 2
    assert AGENT in run.hung
    assert CUSTOMER not in run.hung
    record = _released(run)
    assert record["ended_by"] == "called-party"
    assert "release_unproven" not in record
    assert record["release_ms"] <= 5000
    assert not run.of("violation-risk")


def test_control_unanswered_twice_a_local_half_going_still_leaves_it_unproven():
    """Never a hangup on an unproven reading: the agent's leg is left up, the release
    said unproven (its risk is written when the call ends past the limit)."""
    run = _Run([None], pause=0.0)
    assert len(run.asked(_agent_number)) == 2
    assert run.hung == set()
    call = run.tracker.calls[IDS[CUSTOMER]]
    assert call.release_unproven
    assert call.dialler_unproven


def test_control_optimised_after_the_second_read_releases_the_agent():
    run = _Run([None, "agent7"], pause=2.0)
    assert AGENT in run.hung
    assert _released(run)["ended_by"] == "called-party"
