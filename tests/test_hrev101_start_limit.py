"""The shipped unit's start limit outlasts a Redis that is not back yet (hrev101, review of
hadm23). With `[records] backend = "redis"`, `serve` exited 3 when Redis did not answer at
start ("record store (Redis) unreachable", ~1.5 s here; until hadm24, which waits for it,
every call BLOCKed); systemd restarted it 2 s later, and every start counted towards
StartLimitBurst=. At 20 in 600 s (hadm23) the unit gave up after ~20 x 3.5 s = 70 s: a
node booted with its Redis host (a power cut of the rack; a Redis loading its AOF; a
failover) was left failed, answering no call, until someone ran `systemctl reset-failed`.
The limit spans at least 3 minutes of restarts (StartLimitBurst= x RestartSec=, counting no
time for the start itself) for what still exits and clears by itself (an address not yet
there at boot), and still engages for a configuration mistake (hadm23's check: the burst
fits the interval even when each start takes 10 s to fail).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.serve_node import ServeNode
from tests.test_hadm23_systemd_restart import UNIT, seconds, sections

REDIS_BACK_WITHIN = 180  # s: a Redis host rebooting, or loading its AOF, after a power cut


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_no_longer_exits_when_redis_is_not_there(tmp_path: Path) -> None:
    """The premise changed (hadm24): a start without Redis is a node waiting for it, every
    call BLOCKed meanwhile (tests/test_hadm24_redis_late.py), not a failed start (exit 3,
    until hadm24). The limit below still serves what does exit: a configuration mistake,
    an address not yet there at boot, a Redis that refuses the password."""
    node = ServeNode(tmp_path / "node", redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
                     redis_records=True)
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config",
                                str(node.config), "serve"], env=node.env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=8)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
    assert b"store_unavailable_at_start" in err


def test_the_start_limit_outlasts_a_redis_not_yet_back() -> None:
    unit = sections(UNIT.read_text())
    burst = int(unit["Unit"]["StartLimitBurst"][-1])
    interval = seconds(unit["Unit"]["StartLimitIntervalSec"][-1])
    delay = seconds(unit["Service"]["RestartSec"][-1])
    assert burst * delay >= REDIS_BACK_WITHIN, (burst, delay)
    assert burst * (delay + 10) <= interval, (burst, delay, interval)  # still engages
