"""Review of hast16 (hrev36): a withdrawn ALLOW gives back its reservation only once the
withdrawing BLOCK is on record.

hast16's order is "record the withdrawing BLOCK first, then release" (a crash between the
two over-counts, never the other way). But ``Gate.refuse`` never raises: a record that
cannot be written (the log's disk full) is logged ``record_failed`` and the BLOCK returned
all the same, and the FastAGI front then released the reservation. The compliance log
then holds the ALLOW, standing (nothing withdraws it), while the counts no longer hold its
call: under a cap of three calls in 24 hours (Fla. Stat. 501.616(6)(b)) three more ALLOWs
follow, and the record shows four calls cleared to one number in a day — a cap the
record says was broken, and the counts (which the log proves: ``counted``) disagreeing
with the log that is meant to prove them. A withdrawal not on record now keeps the count.
"""

from __future__ import annotations

import pytest

from callguard.fronts.fastagi import contract as c
from tests.fake_asterisk import agi_session
from tests.test_asterisk16_withdrawn import (
    FLORIDA,
    UT,
    close_while_answering,
    hangup_while_answering,
    long_tail_after_answer,
    node,  # noqa: F401 - the fixture
    verdicts_of_three_more,
)
from tests.test_fastagi import compliance_records


def log_full_for_withdrawals(server) -> list[str]:
    """The compliance log refuses every record that withdraws an answer (ENOSPC), as a
    log on a disk that filled right after the ALLOW was written; the ids refused."""
    gate = server.runtime.gate
    real = gate._record
    refused: list[str] = []

    async def record(decision) -> None:
        if decision.withdraws:
            refused.append(decision.withdraws)
            raise OSError(28, "No space left on device (simulated)")
        await real(decision)

    gate._record = record
    return refused


@pytest.mark.parametrize("withdraw", [
    hangup_while_answering,
    close_while_answering,
    lambda server: long_tail_after_answer(server, 20),
], ids=["hangup", "bare-close", "late-tail"])
async def test_an_unrecorded_withdrawal_keeps_the_count(node, withdraw):  # noqa: F811
    refused = log_full_for_withdrawals(node)
    await withdraw(node)
    records = compliance_records(node)
    assert records[-1]["verdict"] == "ALLOW"  # the ALLOW stands in the record...
    assert refused == [records[-1]["decision_id"]]
    assert node.stats.counts["cap_released"] == 0  # ...so its call stays counted
    assert await verdicts_of_three_more(node) == ["ALLOW", "ALLOW", "BLOCK"]


async def test_a_recorded_withdrawal_still_gives_back(node):  # noqa: F811
    """The fix keeps hast16's release when the BLOCK is on record."""
    await hangup_while_answering(node)
    allow, block = compliance_records(node)[-2:]
    assert block["withdraws"] == allow["decision_id"]
    assert node.stats.counts["cap_released"] == 1
    assert await verdicts_of_three_more(node) == ["ALLOW"] * 3
    fourth = await agi_session(node.port, c.ROUTE_CHECK, [FLORIDA, UT])
    assert fourth.variables[c.VAR_VERDICT] == "BLOCK"
