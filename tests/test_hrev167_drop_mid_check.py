"""hrev167: hwd35's queue picture, AMI dropping again while the customer's read is open.

The customer's AppDial leg (listed before the agent's phone) is taken for the called party
and its DIALEDPEERNUMBER asked; AMI drops before the answer (ami.py ``_getvar`` answers a
pending read None as the session goes) and the customer hangs up in the outage: the
reconnect's CoreShowChannels lists neither it nor the dialer's ``;2``. Either the read's
None comes first or the picture does.

Before hwd35 (main) the unread leg stayed the picture's word: gone unseen, the release was
timed after the outage and, the agent's phone possibly the called party, a violation-risk
said the release is not proven. hwd35's ``_check_next`` took the None of a dropped session
for "unread for good" and moved the called party onto the agent's phone, which the outage
left up: the customer's end said nothing, nothing written (found by hrev167; 16 of 16
cases below). A read answered None because AMI went is not unread for good, and a leg gone
is not asked past: ``_check_next`` runs only with AMI up and the leg live.

SYNTHESISED from the hwd35 shape (tests/test_hwd35_queue_unread.py). Pure tracker,
synthetic clock.
"""

from __future__ import annotations

from typing import Any

import pytest

from callguard.watchdog.calls import FindNumber, ReadVariable, TrackerSettings, plain_digest
from tests.picture_tracker import PictureRun
from tests.test_hwd35_queue_unread import (
    AGENT,
    CUSTOMER,
    M1,
    M2,
    ONE,
    READS,
    TWO,
    VALUE,
    _item,
)
from tests.test_watchdog import NUMBER


class HeldRun(PictureRun):
    """A PictureRun whose reads of the customer's DIALEDPEERNUMBER are held, unanswered."""

    held: list[ReadVariable]

    def settle(self, effects: list[Any]) -> None:
        """``PictureRun.settle``, the customer's read kept back, each other effect run
        alone so what it leads to comes back here."""
        self.held = getattr(self, "held", [])
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            if (isinstance(effect, ReadVariable)
                    and (effect.channel, effect.variable) == (CUSTOMER, "DIALEDPEERNUMBER")):
                self.held.append(effect)
            elif isinstance(effect, ReadVariable):
                self.now += 0.01
                queue += self.tracker.variable_read(
                    effect.linkedid, effect.channel, effect.variable,
                    self.answer(effect.channel, effect.variable), self.now)
            elif isinstance(effect, FindNumber):
                self.now += 0.01
                queue += self.tracker.number_found(effect.linkedid, effect.decision_id,
                                                   self.digest, self.now)
            else:
                super().settle([effect])  # a HangupChannel: kept in ``hung``

    def answer_held(self) -> None:
        """The held reads answered None: the session dropped under them."""
        held, self.held = self.held, []
        for effect in held:
            self.now += 0.01
            self.settle(self.tracker.variable_read(effect.linkedid, effect.channel,
                                                   effect.variable, None, self.now))


def run(order: list[str], unread: set[str], read_first: bool) -> HeldRun:
    def answer(channel: str, variable: str) -> str | None:
        if channel in unread:
            return None
        if variable == "CALLGUARD_FOLLOW":
            return VALUE if channel in (TWO, CUSTOMER) else ""
        return READS.get((channel, variable), "")

    drive = HeldRun(answer, digest=plain_digest(NUMBER),
                    settings=TrackerSettings(number_lookup_s=1.0))
    drive.picture(_item(name) for name in order)
    assert drive.held, "the customer's leg was not the one checked"
    drive.now += 0.5
    drive.tracker.disconnected(drive.now)
    if read_first:
        drive.answer_held()
    drive.now += 1.0
    drive.picture(_item(name) for name in order if name not in (CUSTOMER, TWO))
    drive.answer_held()
    drive.tick(80)
    return drive


ORDERS = [[CUSTOMER, AGENT, ONE, TWO, M1, M2], [ONE, CUSTOMER, AGENT, TWO, M1, M2],
          [CUSTOMER, ONE, AGENT, TWO, M1, M2], [TWO, M2, CUSTOMER, M1, AGENT, ONE]]


@pytest.mark.parametrize("read_first", [True, False])
@pytest.mark.parametrize("unread", [{ONE, AGENT}, {AGENT}])
@pytest.mark.parametrize("order", ORDERS)
def test_the_customer_gone_in_a_drop_mid_check_says_the_release_is_unproven(
        order: list[str], unread: set[str], read_first: bool) -> None:
    """Fails on hwd35/hrev162 (f47725e5): nothing written. The agent's phone, maybe the
    called party, is not hung up; a violation-risk says the release is not proven."""
    drive = run(order, unread, read_first)
    assert drive.hung == set()
    [risk] = drive.records("violation-risk")
    assert "not proven" in risk["reason"]
    assert "8015550123" not in str(drive.reports)
