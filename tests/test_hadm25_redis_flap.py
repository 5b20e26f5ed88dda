"""A Redis that answers the PING of ``start_deciding`` and goes away before its second
``start`` (a flap) made the start raise: ``serve`` exited 3 and systemd restarted it
(hadm25). Now the node waits for it as for a Redis down at start: every call BLOCKed
with the reason, not ready, started once Redis is back.

A real redis-server on a free port: not running at the first start, started for the PING
and killed right after it (the one seam: ``Runtime._redis_answers`` wrapped to do that),
then started again for the background retry.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callguard.config import load_settings
from callguard.runtime import open_runtime
from tests.redis_server import RedisServer
from tests.serve_node import ServeNode


def test_a_redis_gone_between_ping_and_start_is_waited_for(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True)
    node.data.mkdir(mode=0o750, exist_ok=True)
    runtime = open_runtime(load_settings(node.config))
    answers = runtime._redis_answers
    flaps: list[bool] = []

    async def flapping() -> bool:
        if flaps:
            return await answers()
        redis.start()
        answered = await answers()
        redis.kill()
        flaps.append(answered)
        return answered

    runtime._redis_answers = flapping  # type: ignore[method-assign]

    async def go() -> None:
        try:
            await runtime.start_deciding(wait_for_redis=True)  # on main: StoreError
            assert flaps == [True]
            assert runtime.starting is not None  # every call BLOCKed, /readyz not ready
            checks = {c.name: c for c in await runtime.readiness().run()}
            assert not checks["stores_started"].ok
            redis.start()
            for _ in range(200):
                if runtime.starting is None:
                    break
                await asyncio.sleep(0.1)
            assert runtime.starting is None
        finally:
            await runtime.aclose()

    try:
        asyncio.run(go())
    finally:
        redis.stop()
