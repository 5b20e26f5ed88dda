"""An attribute list Redis lost, on a node restarted after (hsto23).

A node that served ``attr-reassigned`` and starts on a Redis that lost it (FLUSHALL, no
AOF) serves none, and says so (``list_lost_from_redis``, /readyz not ready) — but its
reason said "every call in its scope is BLOCKed", a do-not-call list's effect: the gate
reads a lost attribute list as no data, and with the shipped ``unchecked = "honour"`` a
consent is honoured unchecked, the disconnects the copy held no longer applied. The text
now says what happens and how to import it back (`attributes import`, not `dnc import`).
Since hrea24 the gate reads it as unread: a call resting on a consent is BLOCKed
(tests/test_hrea24_reassigned_lost.py). Real redis-server, real FLUSHALL.
"""

from __future__ import annotations

from datetime import date

from callguard.fronts.http.readiness import Readiness
from callguard.stores.attributes.dated import ParsedDated
from callguard.stores.redis.lists import RedisListPublisher, RedisListRegistry
from tests.conftest import PACKS
from tests.test_redis_lists import bounded, connect


async def test_a_lost_reassigned_list_says_what_the_gate_does_with_it(redis_server,
                                                                       tmp_path) -> None:
    client = connect(redis_server.url)
    parsed = ParsedDated()
    parsed.by_area[801] = {5550123: (date(2026, 2, 1) - date(1970, 1, 1)).days}
    await RedisListPublisher(client).publish("attr-reassigned", parsed,
                                             published=date(2026, 11, 20), area_codes=None,
                                             source="test")
    served = tmp_path / "served.json"
    first = RedisListRegistry(connect(redis_server.url))
    first.remember_in(served)
    await bounded(first.sync(), "the first node's sync")
    assert first.names() == ("attr-reassigned",)
    await client.flushall()
    restarted = RedisListRegistry(connect(redis_server.url))
    restarted.remember_in(served)
    try:
        await bounded(restarted.sync(), "the restarted node's sync")
        assert restarted.snapshot("attr-reassigned") is None
        error = restarted.errors["attr-reassigned"]
        assert "BLOCKed, [lists] not_loaded" not in error, error
        # hrea24: read as unread, a call resting on consent BLOCKed (no longer honoured)
        assert "honoured unchecked" not in error, error
        assert "a call resting on a consent valid at the call is BLOCKed" in error, error
        assert "callguard attributes import FILE --kind reassigned" in error, error
        assert "dnc drop attr" not in error, error
        checks = {c.name: c for c in Readiness(
            packs=PACKS, lists=restarted, records=None, pings={},
            clock_check=lambda: (True, "test"))._list_checks()}
        assert not checks["list:attr-reassigned"].ok
    finally:
        await bounded(client.aclose(), "closing the client")
