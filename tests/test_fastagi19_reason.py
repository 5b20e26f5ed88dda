"""The reason sent to Asterisk quotes no number: the shipped dialplan logs it (session 22).

``[callguard-dial]`` writes ``Log(NOTICE, ... reason=${CALLGUARD_REASON})`` on every
BLOCK, into Asterisk's own log (``messages``, ``full``), and already hides the campaign
and mode it was asked with when they hold 7 or more digits (``CALLGUARD_ASKED``: a dialplan
that swapped NUMBER and CAMPAIGN). The gate's reason for an unknown campaign or mode
quotes the value as given (``campaign '8015550123' is not configured``), and the answer
carried it as it was: the swapped number in clear in Asterisk's log. The compliance record
was redacted; the answer now is too (an opt-out's FAILED reason already was).
"""

from __future__ import annotations

import pytest

from callguard.fronts.fastagi import contract as c
from callguard.numbers.redact import has_digit_run
from tests.fake_asterisk import agi_session
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

NUMBER = "8015550123"


@pytest.mark.parametrize("where", [1, 2], ids=["campaign", "mode"])
@pytest.mark.parametrize("before", ["", "q", "x" * 40])
async def test_a_number_in_the_campaign_or_mode_is_not_in_the_answers_reason(
        node, where, before):
    args = ["8015550199", UT, "", "1.1", ""]
    args[where] = before + NUMBER
    result = await agi_session(node.port, c.ROUTE_CHECK, args)
    variables = result.variables
    assert variables[c.VAR_VERDICT] == "BLOCK"
    assert variables[c.VAR_RULE] in ("callguard:unknown-campaign", "callguard:unknown-mode")
    reason = variables[c.VAR_REASON]
    assert not has_digit_run(reason), reason
    assert NUMBER[:6] not in reason, reason
    assert "…0123" in reason  # the last four, as a log may show them
    record = compliance_records(node)[-1]
    assert record["decision_id"] == variables[c.VAR_DECISION_ID]
    # Citations, counts and versions are no numbers: such a reason is sent as decided.
    listed = await agi_session(node.port, c.ROUTE_CHECK, ["8015550199", UT, "", "1.1", ""])
    assert listed.variables[c.VAR_REASON].startswith(
        "Blocked by us-federal:64.1200(c)(2): number is on national v1 (47 CFR "
        "64.1200(c)(2); 16 CFR 310.4(b)(1)(iii)(B))"), listed.variables[c.VAR_REASON]
