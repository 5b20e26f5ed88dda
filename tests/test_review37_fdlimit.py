"""Review 37 of the open-files fit (hux17): ``max_sessions`` is lowered only when a call
in flight holds descriptors of its own (Redis records and counts). With embedded stores a
session holds nothing but its FastAGI connection, which ``max_connections`` already caps:
lowering ``max_sessions`` there only BLOCKs calls (``callguard:busy``) and FAILs opt-outs
(64.1200(d)(3)) that the node had descriptors for."""

from __future__ import annotations

from callguard.fdlimit import ConnectionCaps, fit_caps


def test_embedded_stores_keep_max_sessions_when_the_connections_are_lowered():
    """The defaults (4,096 FastAGI + 256 HTTP + 1,024 SIP/TCP connections, 256 sessions)
    under a 1,024 limit with embedded stores: the connection caps are lowered (585 FastAGI
    connections still hold 256 sessions); max_sessions stays 256. Before: lowered in
    proportion to 36 — the 37th call at once BLOCKed busy, the 73rd opt-out FAILED, on a
    node with the descriptors to take them."""
    wanted = ConnectionCaps(fastagi=4096, http=256, sip_tcp=1024, sessions=256)
    fitted = fit_caps(wanted, 1_024)
    assert fitted.total < wanted.total
    assert fitted.needed() <= 1_024
    assert fitted.sessions == 256
    fitted = fit_caps(wanted, 4_096)
    assert fitted.sessions == 256


def test_redis_records_still_lower_max_sessions():
    """With Redis records a session holds two Redis connections: sessions are lowered with
    the caps, and the whole still fits."""
    wanted = ConnectionCaps(fastagi=4096, http=256, sip_tcp=1024, sessions=256,
                            redis_per_call=2)
    fitted = fit_caps(wanted, 4_096)
    assert fitted.sessions < 256
    assert fitted.needed() <= 4_096
