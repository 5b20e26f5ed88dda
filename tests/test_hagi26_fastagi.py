"""hagi26: the FastAGI front's answer that cannot fit Asterisk's line, fail closed.

res_agi.c ``run_agi`` reads each command with ``fgets`` into ``char buf[AGI_BUF_LEN]``
(2048): a longer line runs cut at 2,047 bytes and its rest runs as a next command.
``encode_mset`` cuts the free text (reason, rule) to fit and raises ``AnswerTooLong``
when the values it never cuts (verdict, id, cause, caller ID, FOLLOW) do not fit even so.
No answer of today's can (an ALLOW's uncut values come to about 660 bytes at most:
FOLLOW is at most 380 ASCII bytes, watchdog/carry.py ``_MAX``); server.py did not catch
it, so the session ended with no answer while the recorded ALLOW stayed on record and
counted against the number's caps. The test makes a FOLLOW longer than any today (the
watchdog's value, ``follow``, with ``wire._MAX_VALUE`` raised so ``_clean`` keeps it
whole).

Over real sockets; Asterisk's side is tests/fake_asterisk.py (recorded header block,
replies as res_agi.c writes them).
"""

from __future__ import annotations

import structlog

from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi import wire
from tests.fake_asterisk import agi_session
from tests.test_asterisk16_withdrawn import (
    FLORIDA,
    UT,
    node,
    verdicts_of_three_more,
)
from tests.test_fastagi import compliance_records

__all__ = ["node"]  # the fixture: embedded stores, Florida's cap of 3 calls in 24 h


async def test_an_allow_too_long_for_asterisks_line_is_withdrawn_and_answered_block(
        node, monkeypatch):
    """The ALLOW never goes out: a BLOCK ``callguard:internal-error`` withdrawing it is
    recorded, answered in its place and confirmed by Asterisk's read-back of its id; the
    ALLOW's reservation is given back (three more calls under the cap of three are
    ALLOWed); the log says why, with no number. On main the session closed unanswered
    and the ALLOW stayed counted (the fourth call was BLOCKed by the cap)."""
    monkeypatch.setattr(wire, "_MAX_VALUE", 4000)
    node._follow = lambda decision: "1|" + "a" * 2100
    with structlog.testing.capture_logs() as logs:
        result = await agi_session(node.port, c.ROUTE_CHECK, [FLORIDA, UT])
    answered = result.variables
    assert answered.get(c.VAR_VERDICT) == "BLOCK", result
    assert answered[c.VAR_RULE] == "callguard:internal-error"
    assert "did not fit on one AGI line" in answered[c.VAR_REASON]
    assert f"__{c.VAR_FOLLOW}" not in answered
    assert c.VAR_CALLERID_NUM not in answered
    allow, block = compliance_records(node)[-2:]
    assert allow["verdict"] == "ALLOW"
    assert (block["verdict"], block["rule"]) == ("BLOCK", "callguard:internal-error")
    assert block["withdraws"] == allow["decision_id"]
    assert answered[c.VAR_DECISION_ID] == block["decision_id"]
    assert result.commands[-1] == f"GET VARIABLE {c.VAR_DECISION_ID}"  # confirmed
    counts = node.stats.counts
    assert (counts["answer_too_long"], counts["withdrawn"], counts["cap_released"]) == (
        1, 1, 1)
    assert counts["answer_unconfirmed"] == 0
    too_long = [e for e in logs if e["event"] == "fastagi_answer_too_long"]
    assert len(too_long) == 1
    assert too_long[0]["decision_id"] == allow["decision_id"]
    assert "5550123" not in repr(logs)
    assert node._answering == {}
    node._follow = None
    assert await verdicts_of_three_more(node) == ["ALLOW"] * 3
