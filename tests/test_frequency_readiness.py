"""/readyz says so when the Redis count store is refused as behind (a restored backup):
every capped call is then BLOCKed until the operator acts, and a balancer must stop
sending the node calls (hfrq20, hrev75: the node read ready)."""

from __future__ import annotations

from callguard.config import load_settings
from callguard.runtime import open_runtime
from tests.test_frequency import redis_node


async def test_a_count_store_refused_as_behind_makes_the_node_not_ready(tmp_path,
                                                                       redis_server):
    runtime = open_runtime(load_settings(data_dir=tmp_path))
    counts = redis_node(redis_server.url)
    own = runtime.frequency
    runtime.frequency = counts  # the Redis count store, as a node on Redis wires it
    try:
        checks = {c.name: c for c in await runtime.readiness().run()}
        assert checks["frequency_counts"].ok
        counts.behind = "the Redis server holds fewer call-frequency counts than this node"
        checks = {c.name: c for c in await runtime.readiness().run()}
        assert not checks["frequency_counts"].ok
        assert "fewer call-frequency counts" in checks["frequency_counts"].detail
    finally:
        await counts.aclose()
        runtime.frequency = own
        await runtime.aclose()
