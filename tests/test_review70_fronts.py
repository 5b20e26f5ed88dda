"""Review 70 of hnet20's ``StrangerLog``: the line names the address to add.

A front on ``host = "::"`` (a dual-stack socket: ``dual_stack_listener``, and a UDP
socket bound to ``::``) sees an IPv4 peer as ``::ffff:10.0.0.6``; the line named it so,
while ``allowed_sources`` is written, and ``plain_address`` reads sources, in the IPv4
form. The line now names ``10.0.0.6``, once even when both forms were refused.

Its eight addresses were the first eight seen since the last line: on a scanned port,
scanners, and the dialer the line exists to name was left out. Now the most refused
first, among a bounded 64 counted.
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


def test_a_dialer_refused_call_after_call_is_named_among_a_scan() -> None:
    """Twenty scanners probe once each (a SIP port on the internet is scanned all day),
    then the admin's new dialer, missing from ``allowed_sources``, is refused on five
    calls, all in the minute after the first line: the next line names the dialer first.
    Before: the eight addresses shown were the first eight seen — scanners — and the
    dialer, the one address the line exists to name, was in none of the lines."""
    now = [0.0]
    log = StrangerLog("sip_source_refused", "[sip] allowed_sources", clock=lambda: now[0])
    with capture_logs() as lines:
        log.refused("198.51.100.1")
        for i in range(20):
            now[0] += 1.0
            log.refused(f"203.0.113.{i}")
        for _ in range(5):
            now[0] += 1.0
            log.refused("10.0.0.6")
        now[0] = 61.0
        log.refused("203.0.113.99")
    assert len(lines) == 2
    assert lines[1]["sources"][0] == "10.0.0.6", lines[1]
    assert len(lines[1]["sources"]) == 8
    assert lines[1]["refused"] == 26


def test_the_addresses_kept_between_lines_are_bounded() -> None:
    """A forged-source UDP flood (100,000 distinct addresses in a minute): the state held
    between two lines stays a bounded handful of addresses."""
    now = [0.0]
    log = StrangerLog("sip_source_refused", "[sip] allowed_sources", clock=lambda: now[0])
    with capture_logs() as lines:
        for i in range(100_000):
            log.refused(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        assert len(log._sources) <= 64  # the bound is the point
        now[0] = 60.0
        log.refused("10.0.0.6")
    assert [line["refused"] for line in lines] == [1, 100_000]
