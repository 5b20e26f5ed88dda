"""The open-files check counts the most a node may hold open: every front's connections,
the Redis connections of every call in flight — FastAGI sessions with the opt-outs'
headroom (twice ``max_sessions``) — and the reserve (operator examiner 17)."""

from __future__ import annotations

import pytest

from callguard.fdlimit import OPT_OUT_HEADROOM, RESERVED_FDS, ConnectionCaps, fit_caps
from tests.serve_node import ServeNode, write_lists


def test_opt_out_headroom_is_counted():
    """512 FastAGI connections, 256 sessions, Redis records (two clients a call): checks
    and opt-outs may hold 512 sessions, each two Redis connections — 512 + 1,024 + the
    reserve is more than 1,280. Before: only the connections were counted (512 + 256 fit
    under 1,280), and under load a call's record found no descriptor (BLOCK; an opt-out
    FAILED, 64.1200(d)(3))."""
    wanted = ConnectionCaps(fastagi=512, http=0, sip_tcp=0, sessions=256, redis_per_call=2)
    assert wanted.needed() == 512 + 256 * OPT_OUT_HEADROOM * 2 + RESERVED_FDS
    fitted = fit_caps(wanted, 1_280)
    assert fitted != wanted
    assert fitted.needed() <= 1_280
    assert fitted.sessions < 256
    assert fitted.fastagi < 512
    assert fit_caps(wanted, wanted.needed()) == wanted


def test_embedded_stores_take_no_descriptor_per_call():
    """Embedded stores (one SQLite, one log) hold no descriptor per call: nothing lowered."""
    wanted = ConnectionCaps(fastagi=512, http=256, sip_tcp=0, sessions=256)
    assert fit_caps(wanted, 512 + 256 + RESERVED_FDS) == wanted


@pytest.mark.usefixtures("redis_server")
def test_serve_lowers_sessions_and_names_the_limit_to_set(tmp_path, redis_server):
    """A node with Redis records under a 6,000-descriptor limit: its default caps (4,096 +
    256 + 1,024 connections + the reserve = 5,632) fit, but with 768 calls in flight at two
    Redis connections each they do not (7,168), nor with SIP's 1,024 INVITEs in flight
    (``[sip] max_in_flight``) at two each (9,216): the node lowers its caps, max_sessions
    and max_in_flight and says to raise the limit to 9,216 (before: nothing lowered,
    nothing said; then SIP's calls in flight were not counted)."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True,
                     rlimit_nofile=6_000)
    write_lists(node.data, [8015550199])
    node.start()
    try:
        events = node.events("connection_caps_lowered")
        assert events, node.stderr()[-2000:]
        event = events[0]
        assert event["needed"] == 9_216
        assert "at least 9216" in event["fix"]
        assert "LimitNOFILE" in event["fix"]
        assert event["max_sessions"] < 256
        assert 1 <= event["sip_max_in_flight"] < 1_024
    finally:
        node.stop()
