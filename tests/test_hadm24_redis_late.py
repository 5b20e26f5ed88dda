"""``serve`` with its records in Redis, started before Redis (hadm24): a host rebooted
with Redis coming up after callguard, or a Redis restarting. On main the node exited 3
("record store (Redis) unreachable") and systemd restarted it until its start limit gave
up (hrev101 raised StartLimitBurst as a stopgap). Now it starts, listens, answers every
call BLOCK with the reason (store unavailable: fail closed), says not ready on /readyz,
tries Redis again with bounded backoff, and decides on the merits once Redis answers.

A real ``callguard serve`` process and a real redis-server on a free port started after
it, over real sockets (HTTP).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.redis_server import RedisServer
from tests.serve_node import AT, ServeNode, write_lists

LISTED = "8015550199"  # on the national registry and the state list
CLEAN = "8015550123"  # on no list
UT = "ut-solar-manual"


def _check(node: ServeNode, number: str) -> dict:
    status, body = node.json("/v1/check", {"number": number, "campaign": UT, "at": AT})
    assert status == 200, body
    return body


def _readyz(node: ServeNode) -> tuple[int, str]:
    return node.http("/readyz", token=None)


def _late_node(tmp_path: Path) -> tuple[ServeNode, RedisServer]:
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")  # its port drawn, nothing listening on it yet
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True,
                     reload_seconds=1.0)
    write_lists(node.data, [int(LISTED)])
    return node, redis


def test_serve_waits_for_a_redis_that_starts_after_it(tmp_path: Path) -> None:
    node, redis = _late_node(tmp_path)
    try:
        node.start()  # on main: "serve exited 3: ... record store (Redis) unreachable"
        for number in (CLEAN, LISTED):
            body = _check(node, number)
            assert body["verdict"] == "BLOCK", body
            assert "store unavailable" in str(body), body
        status, text = _readyz(node)
        assert status == 503, text
        assert "stores_started" in text, text
        assert "store unavailable" in text, text
        assert node.events("store_unavailable_at_start"), node.stderr()[-2000:]
        time.sleep(1.5)  # a few retries fail meanwhile; the node stays up
        assert node.alive()
        redis.start()
        node.until(lambda: _readyz(node)[0] == 200, timeout=30, what="/readyz 200")
        assert _check(node, CLEAN)["verdict"] == "ALLOW"
        blocked = _check(node, LISTED)
        assert blocked["verdict"] == "BLOCK", blocked
        assert "store unavailable" not in str(blocked), blocked
        assert node.events("store_started"), node.stderr()[-2000:]
        assert LISTED not in node.stderr()
        assert CLEAN not in node.stderr()
    finally:
        code = node.stop()
        redis.stop()
    assert code == 0, node.stderr()[-2000:]


def test_sigterm_while_waiting_for_redis_stops_promptly(tmp_path: Path) -> None:
    node, _redis = _late_node(tmp_path)
    node.start()
    assert _check(node, CLEAN)["verdict"] == "BLOCK"
    time.sleep(2.0)  # into the backoff's longer waits
    assert node.process is not None
    began = time.monotonic()
    node.process.send_signal(signal.SIGTERM)
    code = node.process.wait(timeout=20)
    took = time.monotonic() - began
    node.process = None
    assert code == 0, node.stderr()[-2000:]
    assert took < 5, took


def test_a_redis_that_comes_up_empty_is_refused_as_lost(tmp_path: Path) -> None:
    """The node had served from this Redis (its marker remembered in the data dir); Redis
    comes back after it, empty (restarted without its AOF): the start it waited for takes
    the existing path for a server that lost its data — every call BLOCKed, not ready."""
    node, redis = _late_node(tmp_path)
    redis.start()
    node.start()
    assert _check(node, CLEAN)["verdict"] == "ALLOW"
    assert node.stop() == 0
    redis.stop()
    for path in (tmp_path / "redis").rglob("*"):  # its AOF gone: it comes back empty
        if path.is_file():
            path.unlink()
    node.start()
    assert "store unavailable" in str(_check(node, CLEAN))
    try:
        redis.start()
        node.until(lambda: node.events("store_started"), timeout=30, what="store_started")
        body = _check(node, CLEAN)
        assert body["verdict"] == "BLOCK", body
        assert "lost its data" in str(body), body
        status, text = _readyz(node)
        assert status == 503, text
        assert "lost its data" in text, text
    finally:
        code = node.stop()
        redis.stop()
    assert code == 0, node.stderr()[-2000:]
