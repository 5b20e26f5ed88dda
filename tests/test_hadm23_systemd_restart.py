"""The shipped unit gives up on a node that cannot start (hadm23). `serve` exits 2 for a
configuration mistake, and with `Restart=on-failure`, `RestartSec=2` and no start limit
systemd restarted it every ~2-3 s for ever, the journal filling with the same "usage
error:" line. Exit 2 is also what a host address or name not yet there at boot gives, so
`RestartPreventExitStatus=2` stays out: the unit now stops after a bounded number of
tries (StartLimitBurst= in StartLimitIntervalSec=, in [Unit] where systemd reads them).
RestartSteps=/RestartMaxDelaySec= would let the delay grow instead, but the systemd of
Debian 12 (252) does not know them: `systemd-analyze verify` here says "Unknown key".
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_packaging import systemd_verify

UNIT = ROOT / "systemd" / "callguard.service"
BIN = Path(shutil.which("callguard") or ROOT / ".venv" / "bin" / "callguard")
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="needs systemd-analyze")


def sections(text: str) -> dict[str, dict[str, list[str]]]:
    """Each section's keys and their values, as systemd reads a unit (comments dropped)."""
    found: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = found.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return found


def seconds(value: str) -> float:
    """A systemd time span of the forms the unit uses: 600, 600s, 10min, 2s."""
    match = re.fullmatch(r"(\d+)\s*(s|sec|min)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_restarts_are_bounded_and_long_enough_for_boot() -> None:
    unit = sections(UNIT.read_text())
    assert "StartLimitIntervalSec" in unit["Unit"], "no start limit: restarted for ever"
    assert "StartLimitIntervalSec" not in unit["Service"]
    interval = seconds(unit["Unit"]["StartLimitIntervalSec"][-1])
    burst = int(unit["Unit"]["StartLimitBurst"][-1])
    delay = seconds(unit["Service"]["RestartSec"][-1])
    assert unit["Service"]["Restart"] == ["on-failure"]
    assert interval > 0, "StartLimitIntervalSec=0 disables the limit"
    # The limit engages: `burst` failed starts fit in the interval even when each start
    # takes 10 s to fail (Python's start, the packs read, a name lookup timing out).
    assert burst * (delay + 10) <= interval, (burst, delay, interval)
    # A boot-time cause (EADDRNOTAVAIL, DNS not yet up) has at least 30 s to clear.
    assert burst * delay >= 30, (burst, delay)
    # A config mistake is not what RestartPreventExitStatus= is for: exit 2 can be transient.
    assert "RestartPreventExitStatus" not in unit["Service"]


def test_the_unit_says_how_to_see_why_and_start_again() -> None:
    text = UNIT.read_text()
    for words in ("journalctl -u callguard", "systemctl status callguard",
                  "config check", "systemctl reset-failed callguard"):
        assert words in text, words


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    text = UNIT.read_text()
    unit = tmp_path / "callguard.service"
    unit.write_text(text.replace("/opt/callguard/bin/callguard", str(BIN)))
    return unit


@needs_analyze
def test_the_unit_verifies(unit_here: Path) -> None:
    assert systemd_verify(unit_here) == ""


@needs_analyze
def test_a_start_limit_in_service_is_flagged(unit_here: Path) -> None:
    """Where the keys go matters: systemd reads StartLimitIntervalSec= in [Unit] only."""
    text = unit_here.read_text()
    moved = re.sub(r"^StartLimitIntervalSec=.*\n", "", text, flags=re.MULTILINE)
    unit_here.write_text(moved.replace("[Service]\n", "[Service]\nStartLimitIntervalSec=600\n"))
    assert "Unknown key" in systemd_verify(unit_here)


@needs_analyze
def test_growing_restart_delays_are_unknown_to_this_systemd(unit_here: Path) -> None:
    """Why the unit has no RestartSteps=: on systemd < 254 (Debian 12 ships 252) verify
    says "Unknown key" and the unit would fail its own CI check."""
    analyze = shutil.which("systemd-analyze") or "systemd-analyze"
    version = subprocess.run([analyze, "--version"], capture_output=True, text=True,
                             check=False).stdout.split()
    number = int(version[1]) if len(version) > 1 and version[1].isdigit() else 0
    if number >= 254:
        pytest.skip(f"systemd {number} knows RestartSteps=")
    text = unit_here.read_text()
    assert "\nRestartSteps=" not in text
    unit_here.write_text(text.replace("RestartSec=2\n",
                                      "RestartSec=2\nRestartSteps=5\nRestartMaxDelaySec=60\n"))
    assert "Unknown key 'RestartSteps'" in systemd_verify(unit_here)
