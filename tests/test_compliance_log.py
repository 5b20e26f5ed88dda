"""The compliance log end to end: real sinks (file, rotation, a real Redis Stream), no clear
number anywhere, and the supervisor commands (tail, report, purge) as real processes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from redis import asyncio as aioredis

from callguard.compliance.reader import read_files
from callguard.compliance.sinks import RotatingFileSink
from callguard.config import load_settings
from callguard.gate import CheckRequest
from callguard.policy import ConsentKind, ConsentRecord
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from callguard.stores.writes import AddConsent, RecordEbr, RevokeConsent
from tests.conftest import ROOT

AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Denver
KEY = "ab" * 32
# Test numbers: a call to each, allowed or blocked for different rules.
NUMBERS = ["8015550123", "8015550199", "+1 (435) 555-0142", "2125550166", "555-0100"]
DIGIT_RUNS = ["8015550123", "8015550199", "4355550142", "2125550166", "5550123", "5550199",
              "5550142", "5550166"]


def _lists(data: Path) -> None:
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        # dated the calls' day: a copy dated after a call is not fresh (issue 17)
        write_version(data, name, listed, published=AT.date(), area_codes=None, source="t")


def _config(tmp_path: Path, node: str, redis_url: str | None, data: Path) -> Path:
    """The shipped configuration with this node's name, data dir and (optionally) stream."""
    text = (ROOT / "config" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        f'packs_dir = "{ROOT / "config" / "jurisdictions"}"')
    text = text.replace('data_dir = "../callguard-data"', f'data_dir = "{data}"')
    text = text.replace('node = ""', f'node = "{node}"')
    if redis_url:
        text = text.replace("redis_stream = false", "redis_stream = true")
        assert 'url = "redis://127.0.0.1:6379/0"' in text
        text = text.replace('url = "redis://127.0.0.1:6379/0"', f'url = "{redis_url}"')
    path = tmp_path / f"{node}.toml"
    path.write_text(text)
    return path


def cli(*args: str, config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CALLGUARD_LOG_KEY": KEY, "COLUMNS": "200"}
    env.pop("CALLGUARD_DATA_DIR", None)
    result = subprocess.run([sys.executable, "-m", "callguard", "--config", str(config), *args],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
                            check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def log_key(monkeypatch):
    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY)


async def _run_node(tmp_path, name, url, *, calls):
    """A node with file + stream sinks; makes calls and record changes; returns what it did."""
    data = tmp_path / name
    _lists(data)
    settings = load_settings(_config(tmp_path, name, url, data))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: AT
    await runtime.start()
    decisions = []
    try:
        for number in calls:
            decisions.append(await runtime.gate.check(
                CheckRequest(number, "ut-solar-manual", at=AT, front="test")))
        decisions.append(await runtime.gate.check(
            CheckRequest("8015550123", "ut-solar-predictive", at=AT)))
        await runtime.gate.write([
            AddConsent("beehive-solar", "+18015550123",
                       ConsentRecord(ConsentKind.WRITTEN, AT - timedelta(days=1)),
                       "crm", "signed-form-8015550123.pdf"),
            RevokeConsent("beehive-solar", "+18015550123", ConsentKind.WRITTEN, AT, "phone"),
            RecordEbr("beehive-solar", "+14355550142", last_inquiry=AT.date()),
        ])
        await runtime.gate.opt_out("2125550166", "ut-solar-manual", source="agent")
    finally:
        await runtime.aclose()
    return runtime, decisions


class TestSinks:
    """Every decision produces exactly one record, in the file and in the stream."""

    async def test_file_and_stream_hold_one_record_per_decision(self, tmp_path, redis_server,
                                                                 log_key):
        runtime, decisions = await _run_node(tmp_path, "node-a", redis_server.url,
                                            calls=NUMBERS)
        ids = [d.decision_id for d in decisions]
        verdicts = {d.verdict.verdict for d in decisions}
        assert verdicts == {"ALLOW", "BLOCK"}
        in_file = list(read_files(tmp_path / "node-a" / "compliance.jsonl"))
        assert [r["decision_id"] for r in in_file if r["event"] == "decision"] == ids
        client = aioredis.from_url(redis_server.url)
        entries = await client.xrange("callguard:compliance")
        await client.aclose()
        in_stream = [json.loads(fields[b"r"]) for _, fields in entries]
        assert [r["decision_id"] for r in in_stream if r["event"] == "decision"] == ids
        assert {r["node"] for r in in_stream} == {"node-a"}
        actions = [r["action"] for r in in_file if r["event"] == "record"]
        assert actions == ["consent-added", "consent-revoked", "ebr-recorded",
                           "company-dnc-added"]
        # The record carries what a compliance officer needs months later.
        first = in_file[0]
        for field in ("decision_id", "at", "logged_at", "verdict", "outcomes", "packs",
                      "lists", "time_zones", "local_times", "campaign", "solicitor", "mode",
                      "latency_us", "node"):
            assert field in first, field
        assert first["local_times"][0]["zone"] == "America/Denver"
        assert first["local_times"][0]["local"].startswith("2026-11-25T11:00:00")
        assert all("citation" in o for o in first["outcomes"])
        # The stream sink's own counts reach /metrics: every record sent, none dropped.
        scraped = generate_latest(runtime.metrics.registry).decode()
        sent = len(entries)
        assert f'callguard_log_stream_records_total{{outcome="sent"}} {float(sent)}' in scraped
        assert 'callguard_log_stream_records_total{outcome="dropped"} 0.0' in scraped

    async def test_no_clear_number_in_any_log(self, tmp_path, redis_server, log_key, capfd):
        """Scan the file, the stream and stderr for the digit runs of every test number."""
        await _run_node(tmp_path, "node-a", redis_server.url, calls=NUMBERS)
        client = aioredis.from_url(redis_server.url)
        entries = await client.xrange("callguard:compliance")
        await client.aclose()
        stderr = capfd.readouterr().err
        texts = {
            "file": (tmp_path / "node-a" / "compliance.jsonl").read_text(),
            "stream": "\n".join(fields[b"r"].decode() for _, fields in entries),
            "stderr": stderr,
        }
        assert texts["file"]
        assert texts["stream"]
        for where, text in texts.items():
            digits_only = re.sub(r"[^0-9\n]", "", text)
            for run in DIGIT_RUNS:
                assert run not in text, f"{run} in {where}"
                assert run not in digits_only.replace("\n", " "), f"{run} (punctuated) in {where}"
        assert "signed-form" not in texts["file"]  # consent evidence never reaches the log

    async def test_stream_outage_keeps_the_file_and_catches_up(self, tmp_path, redis_server,
                                                               log_key):
        """Redis away: decisions still recorded in the file; queued records sent on return."""
        data = tmp_path / "n"
        _lists(data)
        runtime = open_runtime(load_settings(_config(tmp_path, "n", redis_server.url, data)))
        await runtime.start()
        redis_server.kill()
        first = await runtime.gate.check(CheckRequest("8015550123", "ut-solar-manual", at=AT))
        assert first.allowed  # the file is the record of truth; the stream is a view
        redis_server.start()
        await runtime.aclose()
        client = aioredis.from_url(redis_server.url)
        entries = await client.xrange("callguard:compliance")
        await client.aclose()
        assert [json.loads(f[b"r"])["decision_id"] for _, f in entries] == [first.decision_id]

    def test_rotation_loses_nothing(self, tmp_path):
        """Rotating by size: every record is in exactly one file, in order."""
        path = tmp_path / "log" / "compliance.jsonl"
        first, second = (RotatingFileSink(path, max_bytes=2000) for _ in range(2))
        for i in range(200):
            (first if i % 2 else second).write(json.dumps({"event": "decision", "i": i,
                                                           "pad": "x" * 40}).encode())
        first.close()
        second.close()
        rotated = list(path.parent.glob("compliance.jsonl.*Z"))
        assert len(rotated) >= 5
        seen = [r["i"] for r in read_files(path)]
        assert sorted(seen) == list(range(200))


@pytest.fixture
def two_nodes_on_stream(tmp_path, redis_server):
    """Configs for two nodes sharing a Redis stream, with lists imported."""
    configs = []
    for name in ("node-a", "node-b"):
        data = tmp_path / name
        _lists(data)
        configs.append(_config(tmp_path, name, redis_server.url, data))
    return configs


class TestTailAndReport:
    """The supervisor commands as real processes."""

    def test_tail_filters_file_and_stream(self, tmp_path, two_nodes_on_stream):
        a, b = two_nodes_on_stream
        at = AT.isoformat()
        for config, number in ((a, "8015550123"), (a, "8015550199"), (b, "4355550142"),
                               (b, "555-0100")):
            cli("check", number, "--campaign", "ut-solar-manual", "--at", at, config=config)
        own = cli("tail", "--json", config=a)
        assert own.returncode == 0, own.stderr
        records = [json.loads(line) for line in own.stdout.splitlines()]
        assert [r["node"] for r in records] == ["node-a", "node-a"]
        everyone = cli("tail", "--stream", "--json", config=a)
        assert {json.loads(x)["node"] for x in everyone.stdout.splitlines()} == {
            "node-a", "node-b"}
        blocked = cli("tail", "--stream", "--json", "--verdict", "BLOCK", config=b)
        rules = [json.loads(x)["rule"] for x in blocked.stdout.splitlines()]
        assert rules == ["us-federal:64.1200(c)(2)", "callguard:number-not-dialable"]
        by_number = cli("tail", "--stream", "--json", "--number", "+1 435 555 0142", config=a)
        (match,) = [json.loads(x) for x in by_number.stdout.splitlines()]
        assert match["number_last4"] == "0142"
        assert match["node"] == "node-b"
        human = cli("tail", "--stream", "--rule", "us-federal:64.1200(c)(2)", config=a)
        assert "BLOCK" in human.stdout
        assert "…0199" in human.stdout
        assert "ALLOW" not in human.stdout
        future = cli("tail", "--stream", "--json", "--since", "2099-01-01", config=a)
        assert future.stdout == ""

    def test_report_totals_and_chart(self, tmp_path, two_nodes_on_stream):
        a, b = two_nodes_on_stream
        at = AT.isoformat()
        for config, number in ((a, "8015550123"), (a, "8015550199"), (b, "8015550124"),
                               (b, "555-0100")):
            cli("check", number, "--campaign", "ut-solar-manual", "--at", at, config=config)
        chart = tmp_path / "report.html"
        result = cli("report", "--stream", "--json", "--html", str(chart), config=a)
        assert result.returncode == 0, result.stderr
        totals = json.loads(result.stdout)
        assert totals["decisions"] == 4
        assert totals["by_verdict"] == {"ALLOW": 2, "BLOCK": 2}
        assert totals["by_rule"] == {"us-federal:64.1200(c)(2)": 1,
                                     "callguard:number-not-dialable": 1}
        assert totals["by_campaign"] == {"ut-solar-manual": 4}
        page = chart.read_text()
        assert page.count("<svg") == 4
        assert "us-federal:64.1200(c)(2)" in page
        assert not any(run in page for run in DIGIT_RUNS)
        human = cli("report", config=b)  # node b's own file
        assert "2 decisions" in human.stdout

    @pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
    def test_tail_follows_two_writers_in_a_real_terminal(self, tmp_path, two_nodes_on_stream):
        """tmux runs `callguard tail --stream -f`; two node processes write; the pane shows both."""
        a, b = two_nodes_on_stream
        tmux = shutil.which("tmux") or "tmux"
        session = f"cg{os.getpid()}"
        env = f"CALLGUARD_LOG_KEY={KEY}"
        command = f"{env} {sys.executable} -m callguard --config {a} tail --stream -f"
        subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "220", "-y", "40",
                        command], check=True, cwd=ROOT)
        try:
            time.sleep(2.0)  # the tail connects and reaches the end of the stream
            at = AT.isoformat()
            writers = [subprocess.Popen(
                [sys.executable, "-m", "callguard", "--config", str(config), "check", number,
                 "--campaign", "ut-solar-manual", "--at", at],
                env={**os.environ, "CALLGUARD_LOG_KEY": KEY}, cwd=ROOT,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for config, number in ((a, "8015550123"), (b, "8015550199"))]
            for writer in writers:
                writer.wait(timeout=60)
            deadline = time.monotonic() + 20
            pane = ""
            while time.monotonic() < deadline:
                pane = subprocess.run([tmux, "capture-pane", "-p", "-t", session],
                                      capture_output=True, text=True, check=False).stdout
                if "node-a" in pane and "node-b" in pane:
                    break
                time.sleep(0.2)
            lines = [line for line in pane.splitlines() if line.strip()]
            assert any("node-a" in line and "ALLOW" in line and "…0123" in line
                       for line in lines), pane
            assert any("node-b" in line and "BLOCK" in line and "…0199" in line
                       for line in lines), pane
        finally:
            subprocess.run([tmux, "kill-session", "-t", session], check=False)


class TestPurge:
    """Retention: records older than it are destroyed, newer ones kept, in file and stream."""

    async def test_purge_file_and_stream(self, tmp_path, redis_server):
        data = tmp_path / "node-a"
        data.mkdir()
        config = _config(tmp_path, "node-a", redis_server.url, data)
        now = datetime.now(UTC)
        old, new = now - timedelta(days=2000), now - timedelta(days=1)
        log = data / "compliance.jsonl"
        rotated = data / "compliance.jsonl.20210101T000000000000Z"
        rotated.write_text(json.dumps({"event": "decision", "logged_at": old.isoformat()}) +
                           "\n")
        log.write_text("".join(json.dumps({"event": "decision", "i": i,
                                           "logged_at": (old if i < 3 else new).isoformat()})
                               + "\n" for i in range(5)))
        client = aioredis.from_url(redis_server.url)
        for instant in (old, old, new):
            await client.xadd("callguard:compliance", {"r": b"{}"},
                              id=f"{int(instant.timestamp() * 1000)}-*")
        dry = cli("purge", "--dry-run", config=config)
        assert "would remove 4 record(s)" in dry.stdout
        assert "would remove 2" in dry.stdout
        assert rotated.exists()
        result = cli("purge", config=config)
        assert result.returncode == 0, result.stderr
        assert not rotated.exists()
        assert [json.loads(x)["i"] for x in log.read_text().splitlines()] == [3, 4]
        assert await client.xlen("callguard:compliance") == 1
        await client.aclose()
        assert "removed 4 record(s)" in result.stdout


class TestStreamReading:
    """Batched reads: forward and newest-first agree, and the bounds hold across batches."""

    async def test_newest_first_is_forward_reversed_across_batches(self, redis_server):
        from callguard.compliance.reader import newest_id, read_stream, read_stream_newest

        client = aioredis.from_url(redis_server.url)
        for i in range(7):
            await client.xadd("s", {"r": json.dumps({"i": i}).encode()})
        top = await newest_id(client, "s")
        await client.xadd("s", {"r": b'{"i": 99}'})  # after the bound: in neither read
        forward = [r["i"] async for r in read_stream(client, "s", end=top, batch=2)]
        newest = [r["i"] async for r in read_stream_newest(client, "s", end=top, batch=2)]
        await client.aclose()
        assert forward == list(range(7))
        assert newest == list(reversed(forward))
