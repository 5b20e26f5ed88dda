"""The HTTP port: a real `callguard serve` process scraped over TCP, readiness conditions,
authentication, and a schemathesis run against the OpenAPI description.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callguard.config import load_settings
from callguard.fronts.http.readiness import Readiness
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.stores.redis.records import RecordsSettings
from tests.conftest import ROOT
from tests.redis_server import free_port

TOKEN = "test-token-0123456789abcdef"


def _next_working_wednesday() -> str:
    """11:00 in Denver on the next Wednesday that is no Utah legal holiday, inside every
    window: lists published today are then not dated after the call (issue 17: a copy
    dated after the call is not fresh)."""
    from zoneinfo import ZoneInfo

    from tests.conftest import PACKS
    calendar = PACKS["us-ut"].calendars["us-ut:legal-holidays"]
    day = datetime.now(UTC).date() + timedelta(days=1)
    while day.weekday() != 2 or calendar.holidays_on(day):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 11, tzinfo=ZoneInfo("America/Denver")
                    ).isoformat()


AT = _next_working_wednesday()


# The zone whose date a state's scope list is judged on (Policy.list_day): published
# "today" by UTC's date, it is dated after the call in its state until midnight there, and
# the gate BLOCKs every call on it; /readyz says so since hsto23.
_LIST_ZONES = {"fl-state": "America/New_York", "ok-state": "America/Chicago"}


def _lists(data: Path, published=None) -> None:
    """Every list, published on ``published`` (None: today where each is judged)."""
    from zoneinfo import ZoneInfo

    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state", "fl-state", "ok-state"):
        day = published or datetime.now(ZoneInfo(_LIST_ZONES.get(name, "UTC"))).date()
        write_version(data, name, listed, published=day, area_codes=None, source="t")


def wait_healthy(port: int, process: subprocess.Popen) -> None:
    """Until ``serve`` answers /healthz (30 s); else kill it and fail with its stderr."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http(port, "/healthz", token=None)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    process.kill()
    assert process.stderr is not None
    pytest.fail(f"serve did not start: {process.stderr.read().decode()[-2000:]}")


def http(port: int, path: str, body: dict | None = None, *, token: str | None = TOKEN):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# The running node's configuration file and environment, for tests that also run the CLI.
SERVE_SETUP: dict = {}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """`callguard serve` with the HTTP port on, as an admin runs it."""
    root = tmp_path_factory.mktemp("http")
    data = root / "data"
    _lists(data)
    port, agi = free_port(), free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        'packs_dir = ""')
    assert "[http]\n" in text
    head, http_and_rest = text.split("[http]\n", 1)  # only [http]'s enabled, not [ami]'s
    text = head + "[http]\n" + http_and_rest.replace("enabled = false", "enabled = true", 1)
    text = text.replace("port = 8080", f"port = {port}").replace("port = 4573\n", f"port = {agi}\n")
    text = text.replace("require_clock_sync = true", "require_clock_sync = false")
    head, sip_and_rest = text.split("[sip]\n", 1)  # and the SIP front, on a free port
    sip = free_port()
    text = head + "[sip]\n" + sip_and_rest.replace("enabled = false", "enabled = true", 1
                                                    ).replace("port = 5060", f"port = {sip}", 1)
    config = root / "callguard.toml"
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN, "CALLGUARD_DATA_DIR": str(data)}
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    wait_healthy(port, process)
    SERVE_SETUP.update(config=config, env=env, agi=agi, sip=sip)
    yield port
    process.terminate()
    process.wait(timeout=20)


def _counter(text: str, verdict: str, rule: str, campaign: str, front: str = "http") -> float:
    pattern = (r'^callguard_decisions_total\{campaign="' + re.escape(campaign) +
               r'",front="' + re.escape(front) + r'",rule="' + re.escape(rule) +
               r'",verdict="' + verdict + r'"\} (\S+)$')
    match = re.search(pattern, text, re.MULTILINE)
    return float(match[1]) if match else 0.0


class TestServe:
    """The real process."""

    def test_metrics_move_with_real_decisions(self, node):
        status, before = http(node, "/metrics")
        assert status == 200
        assert "callguard_list_version" in before
        today = datetime.now(UTC).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp()
        published = re.search(r'^callguard_list_published_timestamp_seconds\{list="national"\} '
                              r'(\S+)$', before, re.MULTILINE)
        assert published is not None
        assert float(published[1]) == midnight
        age = re.search(r'^callguard_list_age_seconds\{list="national"\} (\S+)$', before,
                        re.MULTILINE)
        assert age is not None
        assert 0 <= float(age[1]) <= 86_400
        allow = _counter(before, "ALLOW", "", "ut-solar-manual")
        block = _counter(before, "BLOCK", "us-federal:64.1200(c)(2)", "ut-solar-manual")
        status, body = http(node, "/v1/check", {"number": "8015550123",
                                                "campaign": "ut-solar-manual", "at": AT,
                                                "reference": "dialer-call-77"})
        assert status == 200
        assert json.loads(body)["verdict"] == "ALLOW"
        assert json.loads(body)["reference"] == "dialer-call-77"
        status, body = http(node, "/v1/check", {"number": "8015550199",
                                                "campaign": "ut-solar-manual", "at": AT})
        assert json.loads(body)["rule"] == "us-federal:64.1200(c)(2)"
        after = http(node, "/metrics")[1]
        assert _counter(after, "ALLOW", "", "ut-solar-manual") == allow + 1
        assert _counter(after, "BLOCK", "us-federal:64.1200(c)(2)", "ut-solar-manual") == block + 1
        assert "callguard_decision_latency_seconds_count" in after

    def test_fastagi_events_are_exported(self, node):
        """A malformed AGI header block is counted, and the count is scraped."""
        def bad_headers(text: str) -> float:
            match = re.search(r'^callguard_fastagi_events_total\{event="bad_headers"\} (\S+)$',
                              text, re.MULTILINE)
            return float(match[1]) if match else 0.0

        before = bad_headers(http(node, "/metrics")[1])
        with socket.create_connection(("127.0.0.1", SERVE_SETUP["agi"]), timeout=5) as sock:
            sock.sendall(b"this is not an agi header\n\n")
            sock.recv(4096)
        deadline = time.monotonic() + 5
        while bad_headers(http(node, "/metrics")[1]) != before + 1:
            assert time.monotonic() < deadline, "bad_headers did not move"
            time.sleep(0.05)

    def test_sip_front_is_served_and_counted(self, node):
        """[sip] enabled: sipsak's OPTIONS gets 200; an INVITE for a garbage number gets a
        603 naming the rule; both show in callguard_sip_events_total and the decision in
        callguard_decisions_total."""
        def events(text: str, event: str) -> float:
            match = re.search(r'^callguard_sip_events_total\{event="' + event +
                              r'"\} (\S+)$', text, re.MULTILINE)
            return float(match[1]) if match else 0.0

        port = SERVE_SETUP["sip"]
        before = http(node, "/metrics")[1]
        sipsak = shutil.which("sipsak") or "sipsak"
        options = subprocess.run([sipsak, "-vv", "-s", f"sip:ping@127.0.0.1:{port}"],
                                 capture_output=True, text=True, timeout=30, check=False)
        assert "SIP/2.0 200 OK" in options.stdout, options.stdout + options.stderr
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)
            client.sendto((b"INVITE sip:hello@127.0.0.1 SIP/2.0\r\n"
                           b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKserve1\r\n"
                           b"From: <sip:d@127.0.0.1>;tag=1\r\nTo: <sip:hello@127.0.0.1>\r\n"
                           b"Call-ID: serve1\r\nCSeq: 1 INVITE\r\n"
                           b"X-Callguard-Campaign: ut-solar-manual\r\n"
                           b"Content-Length: 0\r\n\r\n"), ("127.0.0.1", port))
            reply = client.recv(65536).decode()
        assert reply.startswith("SIP/2.0 603 Decline\r\n")
        assert 'text="callguard:number-not-dialable"' in reply
        after = http(node, "/metrics")[1]
        assert events(after, "options_new") == events(before, "options_new") + 1
        assert events(after, "invite_new") == events(before, "invite_new") + 1
        assert events(after, "block") == events(before, "block") + 1
        rule = "callguard:number-not-dialable"
        assert (_counter(after, "BLOCK", rule, "ut-solar-manual", "sip")
                == _counter(before, "BLOCK", rule, "ut-solar-manual", "sip") + 1)

    def test_unknown_campaign_does_not_mint_metric_labels(self, node):
        http(node, "/v1/check", {"number": "8015550123", "campaign": "x" * 150})
        assert "x" * 150 not in http(node, "/metrics")[1]

    def test_everything_but_health_needs_the_token(self, node):
        assert http(node, "/healthz", token=None)[0] == 200
        assert http(node, "/readyz", token=None)[0] in (200, 503)
        for path, body in (("/metrics", None), ("/v1/check", {"number": "1", "campaign": "x"}),
                           ("/v1/opt-out", {"number": "1", "campaign": "x"})):
            assert http(node, path, body, token=None)[0] == 401
            assert http(node, path, body, token="wrong-token-0123456789")[0] == 401

    def test_opt_out_then_check_blocks(self, node):
        status, body = http(node, "/v1/opt-out", {"number": "801-555-0142",
                                                  "campaign": "ut-solar-predictive",
                                                  "source": "agent-desktop"})
        # whose list it went on, as FastAGI's opt-out reply says it (hcc22)
        assert (status, json.loads(body)) == (200, {
            "recorded": True, "number_last4": "0142", "solicitor": "beehive-solar",
            "telemarketer": None,
            "reason": "…0142 added to the seller's do-not-call list (47 CFR 64.1200(d)(3))"})
        decision = json.loads(http(node, "/v1/check", {"number": "8015550142",
                                                       "campaign": "ut-solar-manual",
                                                       "at": AT})[1])
        assert decision["rule"] == "us-federal:64.1200(d)(3)"

    def test_fax_is_never_allowed_on_hb45_alone(self, node):
        """A fax solicitation through the JSON check: proposed 13-26a-108 blocks it, and
        with fax consent (the bill's rule passes) it is still refused: no enacted pack
        covers faxes, and a house policy never stands in for the law."""
        fax = {"number": "8015550177", "campaign": "ut-solar-manual", "mode": "fax", "at": AT}
        decision = json.loads(http(node, "/v1/check", fax)[1])
        assert decision["verdict"] == "BLOCK"
        assert decision["rule"] == "us-ut-hb45-2000:13-26a-108(1)"
        subprocess.run([sys.executable, "-m", "callguard", "--config", str(SERVE_SETUP["config"]),
                        "consent", "add", "8015550177", "--campaign", "ut-solar-manual",
                        "--kind", "fax", "--granted", "2026-11-01T00:00:00+00:00"],
                       env=SERVE_SETUP["env"], cwd=ROOT, check=True, capture_output=True)
        decision = json.loads(http(node, "/v1/check", fax)[1])
        assert decision["verdict"] == "BLOCK", decision
        assert decision["rule"] == "callguard:no-pack", decision
        assert "only house policy (us-ut-hb45-2000)" in decision["reason"], decision

    def test_bad_requests_get_clear_errors(self, node):
        status, body = http(node, "/v1/opt-out", {"number": "555", "campaign": "ut-solar-manual"})
        assert status == 400
        assert "digits" in json.loads(body)["error"]
        assert http(node, "/v1/check", {"number": "8015550123"})[0] == 400
        status, body = http(node, "/v1/check", {"number": "8015550123",
                                                "campaign": "ut-solar-manual",
                                                "at": "2026-11-25T11:00:00"})
        assert status == 400
        assert "UTC offset" in json.loads(body)["error"]
        # a newline or an ESC in the opt-out's source would fake a line on a terminal
        status, body = http(node, "/v1/opt-out", {"number": "8015550142",
                                                  "campaign": "ut-solar-manual",
                                                  "source": "agent\n ALLOW 8015550143"})
        assert status == 400, body
        assert "U+000A" in json.loads(body)["error"]

    @pytest.mark.skipif(shutil.which("st") is None and not Path(sys.executable).with_name(
        "st").exists(), reason="schemathesis not installed")
    def test_schemathesis_finds_no_server_error(self, node):
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [str(st), "run", f"http://127.0.0.1:{node}/openapi.json", "-H",
             f"Authorization: Bearer {TOKEN}", "--checks", "not_a_server_error",
             # a live tail never ends: each example would wait out the request timeout
             "--exclude-path", "/supervisor/events",
             "--max-examples", "40", "--seed", "1", "--request-timeout", "10"],
            capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
        assert result.returncode == 0, result.stdout[-4000:]


class TestReadiness:
    """Ready only with fresh lists, reachable stores and a synchronised clock."""

    async def _ready(self, runtime, *, synced=True):
        settings = runtime.settings
        readiness = runtime.readiness()
        readiness._clock_check = lambda: (synced, "simulated")
        checks = await readiness.run()
        assert isinstance(readiness, Readiness)
        return {c.name: c.ok for c in checks}, settings

    async def test_fresh_node_is_ready_and_unsynchronised_clock_is_not(self, tmp_path):
        _lists(tmp_path)
        runtime = open_runtime(load_settings(data_dir=tmp_path))
        try:
            checks, _ = await self._ready(runtime)
            assert all(checks.values()), checks
            checks, _ = await self._ready(runtime, synced=False)
            assert checks["clock"] is False
        finally:
            await runtime.aclose()

    async def test_stale_list_is_not_ready(self, tmp_path):
        """64.1200(c)(2)(i)(D): a copy older than 31 days — not ready (calls would block)."""
        _lists(tmp_path, datetime.now(UTC).date() - timedelta(days=40))
        runtime = open_runtime(load_settings(data_dir=tmp_path))
        try:
            checks, _ = await self._ready(runtime)
            assert checks["list:national"] is False
            assert checks["clock"] is True
        finally:
            await runtime.aclose()

    async def test_redis_down_is_not_ready(self, tmp_path, redis_server):
        _lists(tmp_path)
        settings = replace(load_settings(data_dir=tmp_path), redis_url=redis_server.url,
                           records=RecordsSettings(backend="redis"))
        runtime = open_runtime(settings)
        await runtime.start()
        try:
            checks, _ = await self._ready(runtime)
            assert checks["redis"]
            assert checks["records"]
            redis_server.kill()
            checks, _ = await asyncio.wait_for(self._ready(runtime), 10)
            assert checks["redis"] is False
            assert checks["records"] is False
            assert runtime.metrics.redis_up._value.get() == 0
        finally:
            await runtime.aclose()
