"""hagi21: the FastAGI front as an administrator meets it over a real socket.

A misspelt opt-out URL (``agi://HOST:4573/callguard_optout``) reaches no route. res_agi.c
``launch_netscript`` writes everything after the URL's first ``/`` as
``agi_network_script``, undecoded, so the name must match exactly. The BLOCK answered
for it said "use callguard". An administrator who did that sent the agent's do-not-call
request to the check route. The opt-out's four arguments (NUMBER, CAMPAIGN, empty, LINKEDID)
fit the check's five, so the check route decided the request as a call: an ALLOW was
recorded and counted against the number's caps, and the request was never recorded (the
opt-out dialplan only said FAILED).
"""

from __future__ import annotations

from callguard.fronts.fastagi import contract as c
from callguard.numbers.redact import has_digit_run
from tests.fake_asterisk import agi_session
from tests.test_fastagi import UT, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

OPTOUT_ARGS = ["8015550123", UT, "", "1795326441.70"]  # as [callguard-optout] passes them


async def test_an_unknown_route_names_the_opt_out_route_too(node):
    result = await agi_session(node.port, "callguard_optout", OPTOUT_ARGS)
    v = result.variables
    assert v[c.VAR_RULE] == "callguard:unknown-route"
    assert c.ROUTE_OPTOUT in v[c.VAR_REASON], v[c.VAR_REASON]
    assert not has_digit_run(v[c.VAR_REASON])
    # Either dialplan reads a refusal: the check's BLOCK, the opt-out's FAILED.
    assert (v[c.VAR_VERDICT], v[c.OPTOUT_RESULT]) == ("BLOCK", "FAILED")


async def test_why_the_advice_matters_an_opt_out_sent_to_the_check_is_decided_as_a_call(
        node):
    """What the old advice led to: the same request on the check route is an ALLOW on
    record, not a do-not-call entry (so the advice must name the opt-out route)."""
    wrong = await agi_session(node.port, c.ROUTE_CHECK, OPTOUT_ARGS)
    assert wrong.variables[c.VAR_VERDICT] == "ALLOW"
    assert c.OPTOUT_RESULT not in wrong.variables
    assert compliance_records(node)[-1]["verdict"] == "ALLOW"
    right = await agi_session(node.port, c.ROUTE_OPTOUT, OPTOUT_ARGS)
    assert right.variables[c.OPTOUT_RESULT] == "OK"
