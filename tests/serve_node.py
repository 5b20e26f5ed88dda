"""A real `callguard serve` process for tests: FastAGI, SIP and HTTP on free ports.

The configuration is the shipped `callguard/data/callguard.toml` with the fronts switched on and
the ports changed, as an admin would edit it; stderr goes to a file the tests can read
(and scan for clear numbers). Optionally lists, records and the log stream in Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.conftest import ROOT
from tests.redis_server import free_port

TOKEN = "test-token-0123456789abcdef"


def _recent_wednesday() -> date:
    """The latest Wednesday at least two days back that is no fixed-date Utah or federal
    holiday: a call date in the recent past, so a list published on it is fresh both for
    calls at ``AT`` and for calls made now (a list dated after the call is refused)."""
    day = datetime.now(UTC).date() - timedelta(days=2)
    while day.weekday() != 2 or (day.month, day.day) in {(1, 1), (6, 19), (7, 4), (7, 24),
                                                         (11, 11), (12, 25)}:
        day -= timedelta(days=1)
    return day


AT_DATE = _recent_wednesday()
AT = f"{AT_DATE.isoformat()}T11:00:00-07:00"  # a Wednesday, inside every window


def write_lists(data: Path, listed: Iterable[int], published: date | None = None) -> None:
    """Every list a shipped statute reads (national, ut-state, fl-state, ok-state) with the
    same numbers, as one version each."""
    parsed = ParsedList()
    for number in listed:
        parsed.by_area.setdefault(number // 10_000_000, []).append(number % 10_000_000)
    for name in ("national", "ut-state", "fl-state", "ok-state"):
        write_version(data, name, parsed, published=published or AT_DATE,
                      area_codes=None, source="test")


def _enable(text: str, section: str, replacements: Mapping[str, str], *,
            enable: bool = True) -> str:
    """Edit one [section] of the TOML text: ``enabled = true`` and the given lines."""
    head, rest = text.split(f"[{section}]\n", 1)
    body, sep, tail = rest.partition("\n[")
    if enable:
        body = body.replace("enabled = false", "enabled = true", 1)
    for old, new in replacements.items():
        assert old in body, (section, old)
        body = body.replace(old, new, 1)
    return head + f"[{section}]\n" + body + sep + tail


@dataclass
class ServeNode:
    """One `callguard serve` process and how to reach it."""

    root: Path
    redis_url: str | None = None
    redis_lists: bool = False
    redis_records: bool = False
    redis_stream: bool = False
    extra_http: Mapping[str, str] = field(default_factory=dict)
    extra_sip: Mapping[str, str] = field(default_factory=dict)
    extra_ami: Mapping[str, str] | None = None  # given: [ami] enabled with these lines
    env_extra: Mapping[str, str] = field(default_factory=dict)
    rlimit_nofile: int | None = None
    reload_seconds: float = 5.0
    # Given (an ISO instant, e.g. ``AT``): the node's gate clock starts there and runs at the
    # real rate (bench/serve_at.py). For fronts that decide at the node's clock (SIP, FastAGI)
    # in tests that expect a call inside calling hours, whatever hour the suite runs at.
    clock_at: str | None = None
    http_port: int = field(default_factory=free_port)
    agi_port: int = field(default_factory=free_port)
    sip_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.root / "serve.stderr"
        self.config = self.root / "callguard.toml"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
        text = text.replace('packs_dir = "jurisdictions"',
                            'packs_dir = ""')
        text = _enable(text, "http", {"port = 8080": f"port = {self.http_port}",
                                      "require_clock_sync = true":
                                      "require_clock_sync = false", **self.extra_http})
        # In its own section: a text-wide replace also hit an HTTP port drawn as 4573x
        # ("port = 45733" became "port = 495113", and serve refused the configuration).
        text = _enable(text, "fastagi", {"port = 4573": f"port = {self.agi_port}"},
                       enable=False)
        text = _enable(text, "sip", {"port = 5060": f"port = {self.sip_port}",
                                     **self.extra_sip})
        if self.extra_ami is not None:
            text = _enable(text, "ami", self.extra_ami)
        if self.redis_url:
            text = text.replace('url = "redis://127.0.0.1:6379/0"', f'url = "{self.redis_url}"')
            redis = {'backend = "embedded"': 'backend = "redis"'}
            if self.redis_lists:
                text = _enable(text, "lists", redis, enable=False)
            if self.redis_records:
                text = _enable(text, "records", redis, enable=False)
            if self.redis_stream:
                text = text.replace("redis_stream = false", "redis_stream = true")
        return text

    @property
    def env(self) -> dict[str, str]:
        """The environment the node (and CLI commands against its data) run with."""
        # bench/serve_at.py runs as a script: its sys.path starts at bench/, so without
        # ROOT first it imported whichever callguard the venv installs (in a worktree
        # sharing another checkout's venv, that checkout's code, not the one under test).
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN,
                "CALLGUARD_DATA_DIR": str(self.data), "PYTHONPATH": path, **self.env_extra}

    def cli(self, *args: str, check: bool = False,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``callguard --config <this node's> ARGS`` in a subprocess."""
        return subprocess.run([sys.executable, "-m", "callguard", "--config", str(self.config),
                               *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def start(self, *, wait: bool = True) -> ServeNode:
        """Start the process and wait for /healthz."""
        limit = self.rlimit_nofile

        def preexec() -> None:
            if limit is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        stderr = self.stderr_path.open("ab")
        launcher = ([sys.executable, "-m", "callguard"] if self.clock_at is None else
                    [sys.executable, str(ROOT / "bench" / "serve_at.py"), self.clock_at, "--"])
        self.process = subprocess.Popen(
            [*launcher, "--config", str(self.config), "serve",
             "--reload-seconds", str(self.reload_seconds)],
            env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
            preexec_fn=preexec)  # noqa: PLW1509 - the child's own rlimit, before exec
        stderr.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        """Until /healthz answers; fail with the node's stderr otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {self.stderr()}")
            try:
                if self.http("/healthz", token=None)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not start: {self.stderr()[-2000:]}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        code = self.process.returncode
        self.process = None
        return code

    def alive(self) -> bool:
        """The process is still running."""
        return self.process is not None and self.process.poll() is None

    def stderr(self) -> str:
        """Everything the node wrote to stderr so far."""
        try:
            return self.stderr_path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """The node's operational log events called ``name`` (JSON lines on stderr)."""
        found = []
        for line in self.stderr().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == name:
                found.append(event)
        return found

    def http(self, path: str, body: Any = None, *, token: str | None = TOKEN,
             raw: bytes | None = None, headers: Mapping[str, str] | None = None,
             timeout: float = 10) -> tuple[int, str]:
        """One request; (status, body text)."""
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data,
                                         method="POST" if data is not None else "GET")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def json(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        """One request, its body parsed as JSON."""
        status, text = self.http(path, body, **kwargs)
        return status, json.loads(text)

    def metric(self, name: str, labels: str = "") -> float:
        """One sample of /metrics (0 when absent)."""
        text = self.http("/metrics")[1]
        for line in text.splitlines():
            if line.startswith(f"{name}{labels} ") or (
                    not labels and line.startswith(f"{name} ")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def until(self, condition: Callable[[], object], timeout: float = 15,
              what: str = "condition") -> Any:
        """Poll ``condition`` until truthy; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen; stderr: {self.stderr()[-1500:]}")
            time.sleep(0.1)
