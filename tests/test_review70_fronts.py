"""Review 70 of hnet20's ``StrangerLog``: the line names the address to add.

A front on ``host = "::"`` (a dual-stack socket: ``dual_stack_listener``, and a UDP
socket bound to ``::``) sees an IPv4 peer as ``::ffff:10.0.0.6``; the line named it so,
while ``allowed_sources`` is written, and ``plain_address`` reads sources, in the IPv4
form. The line now names ``10.0.0.6``, once even when both forms were refused.
"""

from __future__ import annotations

from structlog.testing import capture_logs

from callguard.fronts.dual_stack import StrangerLog


def test_a_dual_stack_stranger_is_named_as_allowed_sources_lists_it() -> None:
    now = [0.0]
    log = StrangerLog("sip_source_refused", "[sip] allowed_sources", clock=lambda: now[0])
    with capture_logs() as lines:
        log.refused("::ffff:10.0.0.6")
        log.refused("10.0.0.6")
        log.refused("2001:db8::7")
        now[0] = 61.0
        log.refused("::ffff:10.0.0.6")
    assert [(line["source"], line["sources"]) for line in lines] == [
        ("10.0.0.6", ["10.0.0.6"]), ("10.0.0.6", ["10.0.0.6", "2001:db8::7"])]
