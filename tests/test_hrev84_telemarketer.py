"""What a compliance officer sees of a campaign's call centre (``telemarketer``; hrev84).

hdnc22 put an opt-out on the call centre's do-not-call list too and blocked on either list;
the call centre was named nowhere else: FastAGI's opt-out reply said "the seller's list",
a decision record named the seller only (evidence could not show who made the call), and
``campaigns list`` / ``config check`` did not show it. A campaign without the key keeps
every byte it had. Real runtimes, a real FastAGI server, the real encoder and CLI.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from callguard.compliance.archive.evidence import Evidence
from callguard.config import load_settings
from callguard.errors import ConfigError, StoreError
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.gate import TIME_BUDGET, CheckRequest
from callguard.policy.core import STORE_UNAVAILABLE
from callguard.resources import record_schemas_dir
from tests.fake_asterisk import agi_session
from tests.test_hdnc22_telemarketer import (
    AT,
    CENTRE,
    NUMBER,
    SELLER_A,
    SELLER_B,
    _config,
    _data,
    _node,
)

ROOT = Path(__file__).resolve().parents[1]
LOGGED_AT = "2026-11-25T18:00:00.123Z"


async def _check(node, campaign: str):
    """As a dialer over HTTP would ask (a front the record schema names)."""
    return await node.gate.check(CheckRequest(NUMBER, campaign, at=AT, front="http"))


async def _optout_reply(tmp_path: Path, centre: str | None) -> tuple[dict, object]:
    node = _node(tmp_path, "embedded", None, centre=centre)
    await node.start()
    server = FastAgiServer(node.gate, replace(node.settings.fastagi, port=0))
    await server.start()
    try:
        result = await agi_session(server.port, c.ROUTE_OPTOUT,
                                   ["8015550123", "a-via-centre", "", "l.1"])
        stored = [await node.records.company_dnc(who, NUMBER) for who in (SELLER_A, CENTRE)]
    finally:
        await server.close()
        await node.aclose()
    return result.variables, stored


class TestFastAgiOptOutReply:
    """The dialplan's CALLGUARD_REASON names whose lists the number went on."""

    async def test_names_the_seller_and_the_call_centre(self, tmp_path):
        variables, stored = await _optout_reply(tmp_path, CENTRE)
        assert variables[c.OPTOUT_RESULT] == "OK", variables
        assert all(stored), stored  # both lists, as the reply says
        reason = variables[c.VAR_REASON]
        assert f"seller ({SELLER_A})" in reason, reason
        assert f"telemarketer making the call ({CENTRE})" in reason, reason
        assert "0123" in reason
        assert "8015550123" not in reason
        assert "64.1200(d)(3)" in reason

    async def test_without_a_call_centre_unchanged(self, tmp_path):
        variables, stored = await _optout_reply(tmp_path, None)
        assert variables[c.OPTOUT_RESULT] == "OK", variables
        assert stored[0] is not None
        assert stored[1] is None
        assert variables[c.VAR_REASON] == (
            "…0123 added to the seller's do-not-call list (47 CFR 64.1200(d)(3))")


class TestDecisionRecord:
    """``telemarketer`` in the record when the campaign names one, nowhere else."""

    async def test_named_only_when_set_schema_valid_and_bytes_as_the_fields(self, tmp_path):
        node = _node(tmp_path, "embedded", None)
        await node.start()
        try:
            via = await _check(node, "b-via-centre")
            direct = await _check(node, "b-direct")
            await node.gate.opt_out("801-555-0123", "a-via-centre", source="agent")
            blocked = await _check(node, "b-via-centre")  # on the centre's list
        finally:
            await node.aclose()
        encoder = node.compliance.encoder
        schema = Draft202012Validator(
            json.loads((record_schemas_dir() / "decision.json").read_text()))
        fields = {}
        for name, decision in (("via", via), ("direct", direct), ("blocked", blocked)):
            line = encoder.decision_line(decision, LOGGED_AT)
            # the hot path's pieces give the bytes of the plain dict, both ways
            assert line == orjson.dumps(encoder.decision_fields(decision, LOGGED_AT),
                                        option=orjson.OPT_APPEND_NEWLINE), name
            record = json.loads(line)
            assert [e.message for e in schema.iter_errors(record)] == [], name
            fields[name] = record
        assert fields["via"]["telemarketer"] == CENTRE
        assert fields["blocked"]["telemarketer"] == CENTRE
        assert f"asked {CENTRE} not to call" in fields["blocked"]["reason"]
        keys = list(fields["via"])
        assert keys[keys.index("solicitor"):keys.index("solicitor") + 3] == [
            "solicitor", "telemarketer", "mode"]
        # without the key: no field, the keys in the order they always had
        assert "telemarketer" not in fields["direct"]
        keys = list(fields["direct"])
        assert keys[keys.index("campaign"):keys.index("campaign") + 3] == [
            "campaign", "solicitor", "mode"]
        # and the log itself holds what the encoder made
        logged = [json.loads(x) for x in
                  (node.settings.data_dir / "compliance.jsonl").read_text().splitlines()]
        decisions = {r["decision_id"]: r for r in logged if r.get("event") == "decision"}
        assert decisions[via.decision_id]["telemarketer"] == CENTRE
        assert "telemarketer" not in decisions[direct.decision_id]
        for record in decisions.values():
            assert [e.message for e in schema.iter_errors(record)] == []

    def test_schema_takes_a_name_only(self):
        schema = json.loads((record_schemas_dir() / "decision.json").read_text())
        field = Draft202012Validator(schema["properties"]["telemarketer"])
        assert field.is_valid(CENTRE)
        assert not field.is_valid("")
        assert not field.is_valid(None)


def test_evidence_lists_the_call_centres_records_before_a_decision():
    """The request on the call centre's list that blocked the call stands among the
    records in force before it (it was left out: only the seller's were listed)."""
    decision = {"event": "decision", "decision_id": "d1", "logged_at": "2026-11-25T18:00:00Z",
                "at": "2026-11-25T18:00:00.000Z", "solicitor": SELLER_B,
                "telemarketer": CENTRE}
    theirs = {"event": "record", "solicitor": CENTRE, "action": "internal-dnc-added",
              "logged_at": "2026-11-24T18:00:00.000Z"}
    sellers = {"event": "record", "solicitor": SELLER_B, "action": "consent-added",
               "logged_at": "2026-11-23T18:00:00.000Z"}
    other = {"event": "record", "solicitor": SELLER_A, "action": "consent-added",
             "logged_at": "2026-11-23T18:00:00.000Z"}
    later = {**theirs, "logged_at": "2026-11-26T18:00:00.000Z"}
    found = Evidence(decisions=[decision], events=[theirs, sellers, other, later])
    assert found.records_before(decision) == [theirs, sellers]
    # a decision of a campaign without the key: the seller's alone, as before
    plain = {k: v for k, v in decision.items() if k != "telemarketer"}
    assert found.records_before(plain) == [sellers]
    # a malformed field never breaks the reading
    assert found.records_before({**decision, "telemarketer": ["x"]}) == [sellers]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "callguard", *args], capture_output=True,
                            text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
                            cwd=ROOT, timeout=120, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def sites(tmp_path) -> dict[str, list[str]]:
    """The CLI's arguments for a site whose campaigns name a call centre, and one without."""
    made = {}
    for name, centre in (("centre", CENTRE), ("plain", None)):
        where = tmp_path / name
        where.mkdir()
        made[name] = ["--config", str(_config(where, centre)), "--data-dir",
                      str(_data(where))]
    return made


def test_campaigns_list_shows_the_call_centre(sites):
    rows = {r["id"]: r for r in json.loads(_cli(*sites["centre"], "campaigns", "list",
                                                 "--json").stdout)["campaigns"]}
    assert rows["a-via-centre"]["telemarketer"] == CENTRE
    assert rows["b-direct"]["telemarketer"] is None
    table = _cli(*sites["centre"], "campaigns", "list")
    assert table.returncode == 0, table.stderr
    assert "telemarketer" in table.stdout
    assert CENTRE in table.stdout
    plain = _cli(*sites["plain"], "campaigns", "list")
    assert plain.returncode == 0, plain.stderr
    assert "telemarketer" not in plain.stdout  # the table it always was


def test_config_check_shows_the_call_centre(sites):
    info = json.loads(_cli(*sites["centre"], "config", "check", "--json").stdout)
    assert info["telemarketers"] == {CENTRE: ["a-via-centre", "b-via-centre"]}
    text = _cli(*sites["centre"], "config", "check")
    assert (f"telemarketer  {CENTRE} makes the calls of a-via-centre, b-via-centre"
            in text.stdout), text.stdout
    plain = _cli(*sites["plain"], "config", "check")
    assert "telemarketer" not in plain.stdout
    assert json.loads(_cli(*sites["plain"], "config", "check", "--json").stdout)[
        "telemarketers"] == {}


class _CentreReads:
    """The real record store; its reads of the call centre's list fail or wait (the
    second read of hdnc22's fetch: the one a review must see fail closed)."""

    def __init__(self, inner, *, fail: bool = False, delay: float = 0.0) -> None:
        self.inner, self.fail, self.delay = inner, fail, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def company_dnc(self, solicitor: str, e164: str):
        if solicitor == CENTRE:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail:
                raise StoreError("record store unreachable (simulated, call centre's read)")
        return await self.inner.company_dnc(solicitor, e164)


class TestTheCallCentresReadFailsClosed:
    """The seller's list read, the call centre's not: never an ALLOW."""

    async def test_a_failed_read_blocks(self, tmp_path):
        node = _node(tmp_path, "embedded", None)
        await node.start()
        try:
            node.gate._records = _CentreReads(node.records, fail=True)
            decision = await _check(node, "b-via-centre")
            assert not decision.allowed
            assert decision.verdict.deciding.rule_id == STORE_UNAVAILABLE
            assert (await _check(node, "b-direct")).allowed  # the others still served
        finally:
            await node.aclose()

    async def test_a_read_past_the_budget_blocks(self, tmp_path):
        node = _node(tmp_path, "embedded", None)
        await node.start()
        try:
            node.gate._records = _CentreReads(node.records, delay=0.5)
            decision = await node.gate.check(
                CheckRequest(NUMBER, "b-via-centre", at=AT, front="http"), budget_s=0.1)
            assert not decision.allowed
            assert decision.verdict.deciding.rule_id == TIME_BUDGET
        finally:
            await node.aclose()


@pytest.mark.parametrize(("b_centre", "first"), [
    ("ACME call  centre", CENTRE),  # another campaign's call centre, spelt otherwise
    ("\uff21cme Call Centre", CENTRE),  # a full-width A
    ("Beehive-Solar", SELLER_A),  # a seller's own list, spelt otherwise
])
def test_a_call_centre_spelt_two_ways_is_refused(tmp_path, b_centre, first):
    """Two spellings are two do-not-call lists: the opt-out on A's call would not bind B's
    calls by the same call centre. Refused at load, naming both."""
    path = _config(tmp_path)
    text = path.read_text()
    b = text.index('id = "b-via-centre"')
    text = text[:b] + text[b:].replace(f'telemarketer = "{CENTRE}"',
                                       f'telemarketer = "{b_centre}"', 1)
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, data_dir=_data(tmp_path))
    said = str(refused.value)
    assert "campaign 'b-via-centre'" in said
    assert "two do-not-call lists" in said
    assert repr(first) in said


def test_one_call_centre_spelt_alike_loads(tmp_path):
    settings = load_settings(_config(tmp_path), data_dir=_data(tmp_path))
    assert {c.telemarketer for c in settings.campaigns.values()} == {CENTRE, None}
