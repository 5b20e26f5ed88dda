"""``callguard health`` says whether the node can decide, not only that a port answers.

It asked ``/healthz`` (or made a TCP connection to FastAGI): a node with no do-not-call
list loaded, BLOCKing every call the list covers, read "healthy" (exit 0). It now asks
``/readyz`` and exits per state: 0 ready, 1 down, 4 not ready (each failing check named),
5 alive but readiness unknown ([http] off); ``--live`` is the old liveness question.
A real ``serve`` in a subprocess, real sockets.
"""

from __future__ import annotations

import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT
from tests.redis_server import free_port
from tests.test_config_check import cli, import_lists, site  # noqa: F401 - the fixture

TOKEN = "health-token-0123456789"


def _with_http(config: Path, http_port: int, agi_port: int) -> None:
    text = config.read_text()
    text = re.sub(r"(\[http\]\n(?:#.*\n)*)enabled = false\n", r"\1enabled = true\n", text)
    text = text.replace("port = 8080", f"port = {http_port}").replace(
        "port = 4573\n", f"port = {agi_port}\n")
    # This machine's clock reads unsynchronised: the clock check would fail every run.
    text = text.replace("require_clock_sync = true", "require_clock_sync = false")
    config.write_text(text)


def _serve(config: Path, http_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], cwd=ROOT, text=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE,
                               env={**env, "CALLGUARD_HTTP_TOKEN": TOKEN})
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=2):
                return process
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer /healthz"
            time.sleep(0.3)


def test_a_node_without_its_lists_is_not_ready_then_ready_then_down(site) -> None:  # noqa: F811
    http_port, agi_port = free_port(), free_port()
    _with_http(site, http_port, agi_port)
    node = _serve(site, http_port)
    try:
        before = cli("--config", str(site), "health")
        assert before.returncode == 4, before.stdout + before.stderr
        assert f"not ready: http://127.0.0.1:{http_port}/readyz" in before.stdout
        assert "list:national: not loaded" in before.stdout
        assert "list:ut-state: not loaded" in before.stdout
        live = cli("--config", str(site), "health", "--live")  # it answers, all the same
        assert live.returncode == 0, live.stdout + live.stderr
        assert f"healthy: http://127.0.0.1:{http_port}/healthz" in live.stdout
        import_lists(site)  # the node reads the new versions without a restart
        deadline = time.monotonic() + 30
        while (after := cli("--config", str(site), "health")).returncode != 0:
            assert after.returncode == 4, after.stdout + after.stderr
            assert time.monotonic() < deadline, after.stdout
            time.sleep(0.5)
        assert f"ready: http://127.0.0.1:{http_port}/readyz" in after.stdout
    finally:
        node.send_signal(signal.SIGTERM)
        node.communicate(timeout=30)
    down = cli("--config", str(site), "health", "--timeout", "1")
    assert down.returncode == 1
    assert f"down: http://127.0.0.1:{http_port}/readyz" in down.stderr
    assert cli("--config", str(site), "health", "--live", "--timeout", "1").returncode == 1


def test_without_http_alive_is_not_called_ready(site) -> None:  # noqa: F811
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    site.write_text(site.read_text().replace("port = 4573", f"port = {port}"))
    try:
        asked = cli("--config", str(site), "health")
        live = cli("--config", str(site), "health", "--live")
    finally:
        listener.close()
    assert asked.returncode == 5, asked.stdout + asked.stderr
    said = " ".join(asked.stdout.split())
    assert f"alive, readiness unknown: fastagi 127.0.0.1:{port}" in said
    assert "[http] is off" in said
    assert live.returncode == 0, live.stdout + live.stderr
    assert f"healthy: fastagi 127.0.0.1:{port} accepts connections" in live.stdout


def test_something_else_on_the_port_is_not_this_node(site) -> None:  # noqa: F811
    """Another service answering 200 on the port is no readiness: down, not ready."""

    class Other(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>welcome</html>")

        def log_message(self, *_args: object) -> None:
            pass

    other = http.server.HTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    _with_http(site, other.server_address[1], free_port())
    try:
        asked = cli("--config", str(site), "health")
    finally:
        other.shutdown()
        other.server_close()
    assert asked.returncode == 1, asked.stdout + asked.stderr
    assert "not a callguard node's readiness" in " ".join(asked.stderr.split())
