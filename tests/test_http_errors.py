"""The HTTP front's answers to mistakes and slowness, over a real socket: the JSON error
shape for 404/405 and an unknown mode, the gate's time budget on /v1/check, and the
OpenAPI description checked against what the server really answers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from callguard.config import load_settings
from callguard.fronts.http.app import build_app
from callguard.fronts.http.spec import DOCS_DIR, decision_schema, openapi_document
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.conftest import ROOT
from tests.redis_server import free_port
from tests.test_fastagi import SlowRecords
from tests.test_http import wait_healthy

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALL = {"number": "8015550123", "campaign": "ut-solar-manual"}


@pytest.fixture
async def node(tmp_path):
    """The real app on a free port, over a runtime whose record store can be slowed."""
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, listed, published=date(2026, 11, 25), area_codes=None,
                      source="t")
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, http=replace(settings.http, budget_ms=250))
    runtime = open_runtime(settings)
    # A Wednesday 11:00 in Denver: the verdicts do not depend on when the suite runs.
    runtime.gate._clock = lambda: datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    records = SlowRecords(runtime.records)
    runtime.gate._records = records
    await runtime.start()
    app = build_app(gate=runtime.gate, metrics=runtime.metrics,
                    readiness=runtime.readiness(), token=TOKEN.encode(),
                    budget_s=settings.http.budget_ms / 1000)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        session.records = records  # type: ignore[attr-defined]
        session.log = tmp_path / "compliance.jsonl"  # type: ignore[attr-defined]
        yield session
    await runner.cleanup()
    await runtime.aclose()


async def _error(response: aiohttp.ClientResponse) -> str:
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    assert set(body) == {"error"}, body
    return str(body["error"])


class TestJsonErrors:
    """Every error is ``{"error": ...}`` in JSON, aiohttp's own included."""

    async def test_unknown_path_is_a_json_404(self, node):
        """404 with the error shape, not aiohttp's text/plain page."""
        async with node.get("/v2/nothing", headers=AUTH) as response:
            assert response.status == 404
            assert "404" in await _error(response)

    async def test_wrong_method_is_a_json_405_with_allow(self, node):
        """405 names the methods the path has."""
        async with node.get("/v1/check", headers=AUTH) as response:
            assert response.status == 405
            assert "POST" in response.headers["Allow"]
            assert "405" in await _error(response)

    async def test_unknown_mode_is_a_400_not_a_recorded_block(self, node):
        """A mode the gate does not know is the sender's error: 400 naming the modes."""
        async with node.post("/v1/check", json={**CALL, "mode": "robocall"},
                             headers=AUTH) as response:
            assert response.status == 400
            message = await _error(response)
        assert "robocall" in message
        assert "predictive" in message
        assert not node.log.exists() or "robocall" not in node.log.read_text()

    async def test_known_mode_is_still_decided(self, node):
        """The check does not refuse the modes the API lists."""
        async with node.post("/v1/check", json={**CALL, "mode": "manual"},
                             headers=AUTH) as response:
            assert response.status == 200
            assert (await response.json())["verdict"] == "ALLOW"


class TestTimeBudget:
    """/v1/check is bounded by the gate's budget, like FastAGI and SIP."""

    async def test_slow_store_answers_block_time_budget_and_records_it(self, node):
        """A store slower than the 250 ms budget: a 200 BLOCK callguard:time-budget, soon."""
        node.records.delay = 2.0
        started = time.monotonic()
        async with node.post("/v1/check", json=CALL, headers=AUTH) as response:
            decision = await response.json()
        assert time.monotonic() - started < 1.5
        assert response.status == 200
        assert (decision["verdict"], decision["rule"]) == ("BLOCK", "callguard:time-budget")
        records = [json.loads(line) for line in node.log.read_text().splitlines()]
        assert records[-1]["decision_id"] == decision["decision_id"]
        assert records[-1]["rule"] == "callguard:time-budget"


class TestOpenApi:
    """The description is complete and matches the server."""

    async def test_served_spec_carries_the_whole_decision_schema(self, node):
        """Decision is callguard/data/decision.schema.json (all its fields), not a hand copy."""
        async with node.get("/openapi.json") as response:
            spec = await response.json()
        assert spec["openapi"].startswith("3.1")
        decision = spec["components"]["schemas"]["Decision"]
        assert decision == decision_schema()
        on_file = json.loads((DOCS_DIR / "decision.schema.json").read_text())
        assert set(decision["properties"]) == set(on_file["properties"])
        assert len(decision["properties"]) >= 22
        # the file itself points at the schema rather than copying it
        raw = json.loads((DOCS_DIR / "openapi.json").read_text())
        assert raw["components"]["schemas"]["Decision"] == {"$ref": "decision.schema.json"}
        assert "/openapi.json" in spec["paths"]
        assert spec["paths"]["/openapi.json"]["get"]["security"] == []

    async def test_real_decisions_validate_against_the_served_schema(self, node):
        """An ALLOW and a BLOCK from the server are valid Decision documents."""
        from jsonschema import Draft202012Validator

        schema = json.loads(openapi_document())["components"]["schemas"]["Decision"]
        validator = Draft202012Validator(schema)
        for number in ("8015550123", "8015550199", "not a number"):
            async with node.post("/v1/check", json={**CALL, "number": number},
                                 headers=AUTH) as response:
                assert response.status == 200
                errors = list(validator.iter_errors(await response.json()))
            assert errors == [], errors

    async def test_every_error_status_is_documented(self, node):
        """Each status the server answered here is a documented response of its path."""
        spec = json.loads(openapi_document())
        probes = [("post", "/v1/check", {"number": "1"}, 400),
                  ("post", "/v1/check", {**CALL, "mode": "x"}, 400),
                  ("post", "/v1/check", CALL, 200),
                  ("get", "/v1/check", None, 405),
                  ("get", "/openapi.json", None, 200),
                  ("post", "/healthz", {}, 405)]
        for method, path, body, status in probes:
            async with node.request(method, path, json=body, headers=AUTH) as response:
                assert response.status == status, (method, path, await response.text())
            assert str(status) in spec["paths"][path][method if status != 405 else
                                                      next(iter(spec["paths"][path]))][
                "responses"], (method, path, status)
        for path in ("/v1/check", "/v1/opt-out"):  # a body not declared JSON
            async with node.post(path, data=json.dumps(CALL), headers={
                    **AUTH, "Content-Type": "text/plain"}) as response:
                assert response.status == 415, (path, await response.text())
            assert "415" in spec["paths"][path]["post"]["responses"], path


@pytest.mark.skipif(shutil.which("st") is None and not Path(sys.executable).with_name(
    "st").exists(), reason="schemathesis not installed")
def test_schemathesis_conformance_against_a_served_node(tmp_path):
    """schemathesis drives a real `callguard serve` from its own /openapi.json and checks
    every answer's status, content type and body against the description."""
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    data = tmp_path / "data"
    for name in ("national", "ut-state"):
        write_version(data, name, listed, published=datetime.now(UTC).date(),
                      area_codes=None, source="t")
    port = free_port()
    text = (ROOT / "callguard" / "data" / "callguard.toml").read_text()
    text = text.replace('packs_dir = "jurisdictions"',
                        f'packs_dir = "{ROOT / "callguard" / "data" / "jurisdictions"}"')
    head, rest = text.split("[http]\n", 1)
    text = head + "[http]\n" + rest.replace("enabled = false", "enabled = true", 1).replace(
        "port = 8080", f"port = {port}", 1).replace("require_clock_sync = true",
                                                    "require_clock_sync = false", 1)
    head, rest = text.split("[fastagi]\n", 1)
    text = head + "[fastagi]\n" + rest.replace("port = 4573", f"port = {free_port()}", 1)
    config = tmp_path / "callguard.toml"
    config.write_text(text)
    env = {**os.environ, "CALLGUARD_HTTP_TOKEN": TOKEN, "CALLGUARD_DATA_DIR": str(data)}
    env.pop("CALLGUARD_CONFIG", None)
    process = subprocess.Popen([sys.executable, "-m", "callguard", "--config", str(config),
                                "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_healthy(port, process)
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [str(st), "run", f"http://127.0.0.1:{port}/openapi.json", "-H",
             f"Authorization: Bearer {TOKEN}", "--checks",
             "not_a_server_error,status_code_conformance,content_type_conformance,"
             "response_schema_conformance", "--max-examples", "25", "--seed", "1",
             "--request-timeout", "10"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
        assert result.returncode == 0, result.stdout[-6000:]
    finally:
        process.terminate()
        process.wait(timeout=20)
