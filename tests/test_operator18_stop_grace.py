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
