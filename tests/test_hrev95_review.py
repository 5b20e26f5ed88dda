"""hrev95's review of session 25's admin and SIP commits.

``config check`` says what ``serve`` would do but cannot check for itself (its warnings);
``serve`` logs ``sip_block_status_not_global`` at start for a ``[sip] block_status`` of 403
(55942e3), which an admin reads only after starting it. ``check --help`` said "called
now" of a question that ``--at`` asks about another instant.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PACKS_DIR

ROOT = Path(__file__).resolve().parents[1]

SITE = f"""[callguard]
packs_dir = '{PACKS_DIR}'
[[campaigns]]
id = "c1"
solicitor = "s"
caller_id = "+18015550100"
[sip]
enabled = true
port = 0
trunk = "sip:{{number}}@trunk.example.net"
"""


def _callguard(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    done = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                          text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT, check=False,
                          timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.parametrize(("status", "warned"), [(403, True), (603, False)])
def test_config_check_warns_of_a_block_status_that_is_not_global(tmp_path: Path, status: int,
                                                                 warned: bool) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SITE + f"block_status = {status}\n")
    done = _callguard("--config", str(path), "--data-dir", str(tmp_path), "config", "check")
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    said = [line for line in warnings if "block_status" in line]
    assert bool(said) is warned, done.stderr
    if warned:
        assert "603" in said[0]
        assert "403" in said[0]


def test_check_help_does_not_say_now_of_an_at_question() -> None:
    done = _callguard("check", "--help")
    assert done.returncode == 0, done.stderr
    first = " ".join(done.stdout.split("\n\n")[1].split())
    assert "--at" in first, first
    listing = _callguard("--help").stdout
    [line] = [x for x in listing.splitlines() if x.strip().startswith("check ")]
    assert "now" not in line or "--at" in line, line


def test_an_address_not_on_this_machine_is_not_said_to_be_in_use(tmp_path: Path) -> None:
    """[fastagi] host on an address no interface has (192.0.2.55, TEST-NET-1: EADDRNOTAVAIL)
    exits 2, as a configuration mistake; the message told the admin to stop "the process
    using it (another callguard serve?)" and change the port, of an address nothing uses."""
    path = tmp_path / "site.toml"
    path.write_text(SITE.replace("enabled = true", "enabled = false")
                    + '[fastagi]\nhost = "192.0.2.55"\nport = 4599\n'
                    "allowed_sources = ['192.0.2.0/24']\n")
    done = _callguard("--config", str(path), "--data-dir", str(tmp_path), "serve")
    assert done.returncode == 2, done.stderr
    assert "192.0.2.55" in done.stderr
    assert "no address of this machine" in done.stderr, done.stderr
    assert "another callguard serve" not in done.stderr, done.stderr
