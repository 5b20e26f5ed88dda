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


async def test_fastagi_answers_block_and_failed_optout_while_waiting(tmp_path: Path) -> None:
    """Over the FastAGI contract (a replayed Asterisk session, tests/fake_asterisk.py): the
    dialplan reads CALLGUARD_VERDICT BLOCK with the store-unavailable rule and reason, and
    CALLGUARD_OPTOUT FAILED (nothing acknowledged), while Redis is not there."""
    from dataclasses import replace

    from callguard.fronts.fastagi import contract as c
    from callguard.fronts.fastagi.server import FastAgiServer
    from tests.fake_asterisk import agi_session
    from tests.redis_server import free_port

    node = ServeNode(tmp_path / "node", redis_url=f"redis://127.0.0.1:{free_port()}/0",
                     redis_records=True)
    settings = load_settings(node.config, data_dir=node.data)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    try:
        await runtime.start_deciding(wait_for_redis=True)
        await server.start()
        check = await agi_session(server.port, c.ROUTE_CHECK, ["8015550123", "ut-solar-manual"])
        assert check.variables[c.VAR_VERDICT] == "BLOCK", check.variables
        assert check.variables[c.VAR_RULE] == "callguard:store-unavailable", check.variables
        assert "store unavailable" in check.variables[c.VAR_REASON], check.variables
        optout = await agi_session(server.port, c.ROUTE_OPTOUT,
                                   ["8015550142", "ut-solar-manual", "", "l.9"])
        assert optout.variables[c.OPTOUT_RESULT] == "FAILED", optout.variables
    finally:
        await server.close()
        await runtime.aclose()



async def test_a_redis_back_but_refused_is_retried_then_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis comes back not durable (appendonly no): in the retries that is one more failed
    start (not an exit, not half-started: calls and writes refused with the reason, no task
    left per attempt); set right, the start succeeds and an opt-out is acknowledged."""
    import asyncio

    import redis as sync_redis

    monkeypatch.setattr(runtime_module, "START_RETRY_FIRST_S", 0.05)
    monkeypatch.setattr(runtime_module, "START_RETRY_CAP_S", 0.1)
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", appendonly="no")
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True)
    runtime = open_runtime(load_settings(node.config, data_dir=node.data))
    try:
        await runtime.start_deciding(wait_for_redis=True)
        redis.start()
        for _ in range(200):
            if runtime.starting is not None and "unreachable" not in runtime.starting:
                break
            await asyncio.sleep(0.05)
        assert runtime.starting is not None
        assert "appendonly" in runtime.starting, runtime.starting
        tasks = len(asyncio.all_tasks())
        await asyncio.sleep(1.0)  # ten more refused attempts
        assert len(asyncio.all_tasks()) <= tasks, asyncio.all_tasks()
        with pytest.raises(StoreError, match="store unavailable"):
            await runtime.gate.opt_out("8015550123", "ut-solar-manual", source="test")
        admin = sync_redis.Redis.from_url(redis.url)
        admin.config_set("appendonly", "yes")
        admin.close()
        for _ in range(200):
            if runtime.starting is None:
                break
            await asyncio.sleep(0.05)
        assert runtime.starting is None
        assert await runtime.gate.opt_out("8015550123", "ut-solar-manual",
                                          source="test") == "+18015550123"
    finally:
        await runtime.aclose()
        redis.stop()
