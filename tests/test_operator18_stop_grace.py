"""The node's SIGTERM drain (serve.py ``DRAIN_CAP_SECONDS``) fits inside what its service
manager waits before SIGKILL: the unit's TimeoutStopSec= and compose's stop_grace_period
(docker's default is 10 s, shorter than the drain)."""

from __future__ import annotations

import re

import yaml

from callguard.cli.serve import DRAIN_CAP_SECONDS
from tests.conftest import ROOT


def _seconds(value: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(s?)", value.strip())
    assert found, f"unreadable duration {value!r}"
    return float(found.group(1))


def stop_problems(unit: str, compose: dict) -> list[str]:
    problems = []
    timeout = re.search(r"^TimeoutStopSec=(\S+)$", unit, re.MULTILINE)
    if timeout is None or _seconds(timeout.group(1)) < DRAIN_CAP_SECONDS + 2:
        problems.append("systemd: TimeoutStopSec is shorter than the drain")
    grace = compose["services"]["callguard"].get("stop_grace_period", "10s")
    if _seconds(str(grace)) < DRAIN_CAP_SECONDS + 2:
        problems.append(f"compose: stop_grace_period {grace} is shorter than the drain")
    return problems


def test_service_managers_wait_for_the_drain() -> None:
    unit = (ROOT / "systemd" / "callguard.service").read_text()
    compose_text = (ROOT / "docker" / "compose.yaml").read_text()
    assert stop_problems(unit, yaml.safe_load(compose_text)) == []
    assert stop_problems(unit, yaml.safe_load(compose_text.replace(
        "    stop_grace_period: 20s\n", "")))
    assert stop_problems(unit.replace("TimeoutStopSec=20", "TimeoutStopSec=5"),
                         yaml.safe_load(compose_text))


def test_the_fastagi_drain_counts_what_sips_drain_spent() -> None:
    """The cap counts from the stop's start: SIP's drain runs first (up to 5 s), so a
    FastAGI drain starting 14.9 s into the stop waits ~0.1 s, not another 15 s (the two in
    a row reached the unit's TimeoutStopSec=20: SIGKILL mid-record)."""
    import asyncio
    import time
    from types import SimpleNamespace

    from callguard.cli.serve import _drain_fastagi
    from callguard.config import FastAgiSettings

    stuck = SimpleNamespace(stats=SimpleNamespace(connected=1))  # a session that never ends
    settings = FastAgiSettings(header_timeout_ms=60_000, budget_ms=60_000)

    async def drain() -> float:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        await _drain_fastagi(stuck, settings,  # type: ignore[arg-type]
                             since=loop.time() - (DRAIN_CAP_SECONDS - 0.1))
        return time.monotonic() - started

    assert asyncio.run(drain()) < DRAIN_CAP_SECONDS / 2
