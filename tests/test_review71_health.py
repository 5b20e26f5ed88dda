"""Review of 36be5e2/b0cdbca/bbc41ca: ``callguard health`` against what a real node can say.

- /readyz runs its checks one after another, each bounded at 1 s: with Redis hung a node
  answers "not ready" after up to 4 s. At the 2 s default ``health`` gave up and said
  "down" (exit 1) of a node that answers — a Redis partition read as a dead process.
- A failing check's detail is free text (a store's or a list's error) and ``health``'s
  output goes to cron mail and monitoring logs: no number in clear (redact_digits, as
  every other free text bound for a log).
- The container's HEALTHCHECK stays liveness (``--live``): readiness there marks a node
  with no list yet unhealthy and an orchestrator restarts it for ever (a restart loads no
  list); compose's Asterisk would never start.

Real sockets: a stand-in HTTP server answering /readyz as a node does.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.redis_server import free_port
from tests.test_config_check import cli, site  # noqa: F401 - the fixture
from tests.test_packaging import DOCKER
from tests.test_ux20_health import _with_http


@contextmanager
def _node(delay: float, ready: bool, detail: str) -> Iterator[int]:
    """A /readyz that answers after ``delay`` seconds, as callguard's does."""

    class Node(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(delay)
            body = json.dumps({"ready": ready, "checks": [
                {"name": "records", "ok": ready, "detail": detail}]}).encode()
            self.send_response(200 if ready else 503)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Node)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_node_slow_to_say_not_ready_is_not_down(site: Path) -> None:  # noqa: F811
    detail = "TimeoutError: Redis did not answer within 1 s"
    with _node(2.6, False, detail) as port:
        _with_http(site, port, free_port())
        asked = cli("--config", str(site), "health")
    assert asked.returncode == 4, asked.stdout + asked.stderr
    assert f"records: {detail}" in asked.stdout


def test_a_failing_checks_detail_shows_no_number(site: Path) -> None:  # noqa: F811
    detail = "StoreError: refused +1 801 555 0123 on line 7; serving v3 published 2026-11-20"
    with _node(0, False, detail) as port:
        _with_http(site, port, free_port())
        asked = cli("--config", str(site), "health")
    assert asked.returncode == 4, asked.stdout + asked.stderr
    assert "555 0123" not in asked.stdout
    assert "…0123" in asked.stdout  # the last four, as every log shows them
    assert "serving v3 published 2026-11-20" in asked.stdout  # the rest still readable


def test_the_container_healthcheck_is_liveness() -> None:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(.+)$", text, re.MULTILINE)
    assert found, "no HEALTHCHECK"
    assert re.search(r'"callguard",\s*"health",\s*"--live"', found.group(1)), found.group(1)
