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

Synthetic events (those of ``test_hwd23_number_again``); pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from tests.test_hrev81_queue_customer import _CUSTOMER_HANGS_UP, CUSTOMER
from tests.test_hwd23_number_again import _AGENT_SIDE_HANGS_UP, _agent_number, _Run


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
