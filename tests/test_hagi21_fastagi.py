"""hagi21: the FastAGI front as an administrator meets it over a real socket.

A misspelt opt-out URL (``agi://HOST:4573/callguard_optout``) reaches no route. res_agi.c
``launch_netscript`` writes everything after the URL's first ``/`` as
``agi_network_script``, undecoded, so the name must match exactly. The BLOCK answered
for it said "use callguard". An administrator who did that sent the agent's do-not-call
request to the check route. The opt-out's four arguments (NUMBER, CAMPAIGN, empty, LINKEDID)
fit the check's five, so the check route decided the request as a call: an ALLOW was
recorded and counted against the number's caps, and the request was never recorded (the
opt-out dialplan only said FAILED).

On ``host = "::"`` an IPv4 Asterisk refused by ``allowed_sources`` was logged as
``::ffff:10.1.2.3``; SIP's and HTTP's lines (``StrangerLog``) name ``10.1.2.3``, the form
an admin writes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import structlog

from callguard.config import load_settings
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.numbers.redact import has_digit_run
from callguard.runtime import open_runtime
from tests.fake_asterisk import agi_session
from tests.listen_burst import burst, needs_somaxconn
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


async def test_a_refused_ipv4_peer_of_a_dual_stack_listener_is_named_as_written(tmp_path):
    """``host = "::"``: an IPv4 Asterisk outside ``allowed_sources`` reaches the socket as
    ``::ffff:127.0.0.1``; the warning names ``127.0.0.1``, the form the admin adds (as
    SIP's and HTTP's refused-source lines do)."""
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, host="::", port=0,
                                                 allowed_sources=("10.9.9.0/24",)))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    try:
        with structlog.testing.capture_logs() as logged:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.wait_for(reader.read(), timeout=2) == b""
            writer.close()
    finally:
        await server.close()
        await runtime.aclose()
    assert server.stats.counts["refused_source"] == 1
    refused = [e for e in logged if e["event"] == "fastagi_refused_source"]
    assert [e["source"] for e in refused] == ["127.0.0.1"], refused


@needs_somaxconn
async def test_a_burst_of_asterisk_connects_during_a_stall_is_queued_not_dropped(tmp_path):
    """A dialer starting 300 calls at once while the event loop is busy (a GC pause, a slow
    synchronous step): the kernel queues the connections the front has not accepted yet,
    up to ``listen()``'s backlog. asyncio's default is 100: past it Linux drops the SYN
    (net.ipv4.tcp_abort_on_overflow 0), the client retries after its 1 s RTO, and Asterisk
    gives up a FastAGI connect at MAX_AGI_CONNECT, 2000 ms (res_agi.c
    ``handle_connection``): AGISTATUS=FAILURE, each call BLOCKed "callguard not reached"
    after a stall of about a second. The backlog is now ``[fastagi] max_connections`` (the
    sockets the front takes anyway; the kernel caps it at net.core.somaxconn)."""
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    try:
        with burst(server.port) as (pending, refused):
            assert (pending, refused) == (0, 0)
    finally:
        await asyncio.sleep(0.2)  # each closed connection is a probe to the server
        await server.close()
        await runtime.aclose()
