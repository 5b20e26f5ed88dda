"""``callguard health`` on a node whose only failing check is the clock.

It printed "calls in the scope of a failing check are BLOCKed" and "`callguard config
check` says how to fix each": an unsynchronised clock BLOCKs nothing (the fronts go on
answering, README "The HTTP port") and config check says nothing about it, so an admin
following the output ran config check, read "ok", and was left with no fix. The node's
/readyz is played by a small HTTP server answering what readiness.py answers then (503,
the clock check's own detail), so the test does not depend on this machine's clock.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLOCK = {"name": "clock", "ok": False,
         "detail": "the kernel reports the clock unsynchronised (TIME_ERROR)"}
LIST = {"name": "list:national", "ok": False, "detail": "not loaded"}


def _readyz(checks: list[dict[str, object]]) -> http.server.HTTPServer:
    body = json.dumps({"ready": False, "checks": checks}).encode()

    class Readyz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Readyz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _health(tmp_path: Path, checks: list[dict[str, object]]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    run = [sys.executable, "-m", "callguard"]
    made = subprocess.run([*run, "init", str(tmp_path / "etc")], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "etc" / "callguard.toml"
    server = _readyz(checks)
    try:
        text = config.read_text()
        text = re.sub(r"(\[http\]\n(?:#.*\n)*)enabled = false\n", r"\1enabled = true\n", text)
        config.write_text(text.replace("port = 8080", f"port = {server.server_address[1]}"))
        return subprocess.run([*run, "--config", str(config), "health"], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=60, check=False)
    finally:
        server.shutdown()
        server.server_close()


def test_the_clock_alone_is_not_said_to_block_calls(tmp_path: Path) -> None:
    done = _health(tmp_path, [CLOCK])
    assert done.returncode == 4, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "clock: the kernel reports the clock unsynchronised" in said
    assert "BLOCKed" not in said
    assert "config check" not in said
    assert "timedatectl set-ntp true" in said
    assert "require_clock_sync = false" in said


@pytest.mark.parametrize("checks", [[LIST], [LIST, CLOCK]])
def test_other_checks_keep_their_words(tmp_path: Path, checks: list[dict[str, object]]) -> None:
    done = _health(tmp_path, checks)
    assert done.returncode == 4, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "calls in the scope of a failing check are BLOCKed" in said
    assert "`callguard config check` says how to fix each" in said
    assert ("timedatectl" in said) == (CLOCK in checks)
