"""Review of hadm24 (hrev119): while ``serve`` waits for a Redis record store that did not
answer at start, no record write is acknowledged either. hadm24's hook BLOCKs every call
(``Gate.unavailable``), but an opt-out (HTTP ``/v1/opt-out``, FastAGI's opt-out route: both
``Gate.opt_out`` -> ``Gate.write``) went to the store unhooked. While Redis is down that
write fails anyway; but once Redis answers and before the retry has run the start (up to
``START_RETRY_CAP_S`` later), the store is unverified: its marker not read (a server that
came back empty, or restored from an older backup, is not yet refused as lost or behind),
its high-water mark not loaded. On hadm24's branch the opt-out was acknowledged there.
Now it is refused with the same reason as the calls, until the start has succeeded.

A real redis-server on a free port, started after the runtime; the retry's first delay
pushed out so the window stays open for the test (no race).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard import runtime as runtime_module
from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.runtime import open_runtime
from tests.redis_server import RedisServer
from tests.serve_node import ServeNode


async def test_no_write_is_acknowledged_before_the_waited_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "START_RETRY_FIRST_S", 600.0)
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")  # its port drawn, nothing listening yet
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True)
    runtime = open_runtime(load_settings(node.config, data_dir=node.data))
    campaign = "ut-solar-manual"
    try:
        await runtime.start_deciding(wait_for_redis=True)
        assert runtime.starting is not None
        redis.start()  # Redis answers now; the start has not been tried again yet
        with pytest.raises(StoreError, match="store unavailable"):
            await runtime.gate.opt_out("8015550123", campaign, source="test")
        assert runtime.starting is not None
    finally:
        await runtime.aclose()
        redis.stop()
