"""The call centre (campaign key ``telemarketer``) where the officer and the dialer read (hcc22).

hdnc22 and hrev84 put the call centre on the opt-out's lists, in the decision record and in
FastAGI's opt-out reply. Left out: the /v1/check answer (``Decision.to_dict``, schema
``callguard/data/decision.schema.json``) said nothing of it while the record of the same
decision named it; HTTP's /v1/opt-out answer did not say whose lists the number went on; and
the evidence and report tables had no place for it. Real runtimes, a real `callguard serve`,
the real encoder, archiver and CLI.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from bench.synthetic_records import Factory, e164, number_hash
from callguard.compliance.archive.store import Archive
from callguard.fronts.http.spec import decision_schema
from callguard.gate import CheckRequest
from callguard.resources import record_schemas_dir
from tests.log_files import cli, config, write_log
from tests.serve_node import ServeNode, write_lists
from tests.test_hdnc22_telemarketer import AT, CENTRE, NUMBER, SELLER_A, SELLER_B, _node

LOGGED_AT = "2026-11-25T18:00:00.123Z"


async def _decisions(tmp_path: Path):
    """A decision of a campaign through the call centre, and one of the seller's own."""
    node = _node(tmp_path, "embedded", None)
    await node.start()
    try:
        via = await node.gate.check(CheckRequest(NUMBER, "b-via-centre", at=AT, front="http"))
        direct = await node.gate.check(CheckRequest(NUMBER, "b-direct", at=AT, front="http"))
    finally:
        await node.aclose()
    return node, via, direct


class TestTheAnswerAgreesWithTheRecord:
    """``Decision.to_dict`` (``check --json``, /v1/check) names the call centre as the
    record of the same decision does."""

    async def test_to_dict_names_the_telemarketer_the_record_names(self, tmp_path):
        node, via, direct = await _decisions(tmp_path)
        encoder = node.compliance.encoder
        answer, record = via.to_dict(), encoder.decision_fields(via, LOGGED_AT)
        assert record["telemarketer"] == CENTRE
        assert answer["telemarketer"] == record["telemarketer"]
        assert answer["solicitor"] == record["solicitor"] == SELLER_B
        # the seller's own call: no call centre in the record, null in the answer (every
        # key of the answer is always there, as ``solicitor`` and ``linkedid`` are)
        assert "telemarketer" not in encoder.decision_fields(direct, LOGGED_AT)
        assert direct.to_dict()["telemarketer"] is None

    async def test_the_answers_schema_declares_it_and_both_validate(self, tmp_path):
        _, via, direct = await _decisions(tmp_path)
        schema = decision_schema()
        assert "telemarketer" in schema["properties"]
        validator = Draft202012Validator(schema)
        for decision in (via, direct):
            assert [e.message for e in validator.iter_errors(decision.to_dict())] == []
        field = Draft202012Validator(schema["properties"]["telemarketer"])
        assert field.is_valid(CENTRE)
        assert field.is_valid(None)
        assert not field.is_valid("")  # as the record's schema: a name, or nothing
        record = json.loads((record_schemas_dir() / "decision.json").read_text())
        assert record["properties"]["telemarketer"]["minLength"] == field.schema["minLength"]

    async def test_every_key_of_the_answer_is_in_its_schema(self, tmp_path):
        """What the answer carries and what its schema declares do not drift apart."""
        _, via, _ = await _decisions(tmp_path)
        assert set(via.to_dict()) <= set(decision_schema()["properties"])


def _serve_with_centre(tmp_path: Path) -> ServeNode:
    """A real `callguard serve` (HTTP front) whose sellers' first campaigns name the call
    centre; ``insurance-reminders`` (SELLER_B) does, ``ut-solar-prerecorded`` does not."""
    node = ServeNode(tmp_path)
    text = node.config.read_text()
    for seller in (SELLER_A, SELLER_B):
        line = next(x for x in text.splitlines() if x.startswith(f'solicitor = "{seller}"'))
        text = text.replace(line, f'{line}\ntelemarketer = "{CENTRE}"', 1)
    node.config.write_text(text)
    write_lists(node.data, [])
    return node


class TestHttpOptOutNamesTheLists:
    """/v1/opt-out's answer says whose do-not-call lists the number went on, in FastAGI's
    words (CALLGUARD_REASON) and with the record's keys."""

    def test_seller_and_call_centre(self, tmp_path):
        node = _serve_with_centre(tmp_path).start()
        try:
            status, body = node.json("/v1/opt-out", {"number": "801-555-0123",
                                                     "campaign": "ut-solar-manual"})
            plain_status, plain = node.json("/v1/opt-out", {
                "number": "801-555-0124", "campaign": _plain_campaign(node)})
        finally:
            node.stop()
        assert status == 200, body
        assert body["recorded"] is True
        assert body["number_last4"] == "0123"
        assert body["solicitor"] == SELLER_A
        assert body["telemarketer"] == CENTRE
        assert body["reason"] == (
            f"…0123 added to the do-not-call lists of the seller ({SELLER_A}) and of the "
            f"telemarketer making the call ({CENTRE}) (47 CFR 64.1200(d)(3))")
        assert plain_status == 200, plain
        assert plain["solicitor"] == SELLER_A
        assert plain["telemarketer"] is None
        assert plain["reason"] == (
            "…0124 added to the seller's do-not-call list (47 CFR 64.1200(d)(3))")

    def test_the_answer_is_as_its_documented_schema(self, tmp_path):
        from callguard.resources import openapi_spec

        spec = json.loads(openapi_spec().read_text())
        schema = spec["components"]["schemas"]["OptOutResponse"]
        for key in ("solicitor", "telemarketer", "reason"):
            assert key in schema["properties"], key
        node = _serve_with_centre(tmp_path).start()
        try:
            status, body = node.json("/v1/opt-out", {"number": "801-555-0123",
                                                     "campaign": "ut-solar-manual"})
        finally:
            node.stop()
        assert status == 200, body
        assert set(body) <= set(schema["properties"])
        assert [e.message for e in Draft202012Validator(schema).iter_errors(body)] == []


def _plain_campaign(node: ServeNode) -> str:
    """A campaign of SELLER_A that names no call centre."""
    blocks = node.config.read_text().split("[[campaigns]]")[1:]
    return next(b.split('id = "', 1)[1].split('"', 1)[0] for b in blocks
                if f'solicitor = "{SELLER_A}"' in b and "telemarketer" not in b)


def _with_centre(record: dict) -> dict:
    """A decision of ``ut-solar-manual`` as a node writes it once the campaign names the
    call centre: ``telemarketer`` after ``solicitor``; every other record as it was."""
    if record.get("event") != "decision" or record.get("campaign") != "ut-solar-manual":
        return record
    out = {}
    for key, value in record.items():
        out[key] = value
        if key == "solicitor":
            out["telemarketer"] = CENTRE
    return out


class TestAnArchiveFromBeforeTheCallCentre:
    """An archive written by this callguard from records without ``telemarketer`` (a month
    file, compacted days), then records with it archived into it (the month rewritten, new
    day parts) and more left in the log: report and evidence read all of them, and name the
    call centre on the calls it placed only."""

    @pytest.fixture(scope="class")
    def site(self, tmp_path_factory):
        tmp_path = tmp_path_factory.mktemp("archive")
        data = tmp_path / "data"
        log = data / "compliance.jsonl"
        path = config(tmp_path, data)
        old = [orjson.dumps(r) + b"\n" for r in Factory(
            1200, start=datetime(2026, 1, 20, tzinfo=UTC), days=30, pool=40).records()]
        assert not any(b"telemarketer" in line for line in old)
        write_log(log, old, closed=[(len(old), False)])
        made = cli("archive", "--compact-all", "--keep-segments-days", "-1",
                   config_path=path)
        assert made.returncode == 0, made.stderr
        manifest = Archive(data / "archive").manifest()
        assert any(p.until for p in manifest.parts)  # a month file (February)
        assert any(p.compacted and not p.until for p in manifest.parts)  # January's days
        new = [orjson.dumps(_with_centre(r)) + b"\n" for r in Factory(
            400, start=datetime(2026, 2, 25, tzinfo=UTC), days=10, pool=40,
            seed=2).records()]
        write_log(log, new, closed=[(300, False)])  # the rest stays in the log, unarchived
        made = cli("archive", "--compact-all", "--keep-segments-days", "-1",
                   config_path=path)
        assert made.returncode == 0, made.stderr
        records = [orjson.loads(line) for line in [*old, *new]]
        return path, records

    def test_report_counts_the_call_centres_calls(self, site):
        path, records = site
        calls = [r for r in records if r["event"] == "decision" and r["front"] != "scrub"]
        centred = [r for r in calls if "telemarketer" in r]
        assert centred
        result = cli("report", "--json", config_path=path)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["calls"] == len(calls)
        rows = report["by_telemarketer"]
        assert {(r["telemarketer"], r["campaign"]) for r in rows} == {
            (CENTRE, "ut-solar-manual")}
        assert sum(r["calls"] for r in rows) == len(centred)
        assert sum(r["block"] for r in rows) == sum(r["verdict"] == "BLOCK" for r in centred)
        days = {d["day"] for d in report["days"] if d.get("telemarketer")}
        assert days == {r["at"][:10] for r in centred}
        # the seller's own calls of the same campaign, before, name no call centre
        assert any(d["campaign"] == "ut-solar-manual" and "telemarketer" not in d
                   for d in report["days"])
        csv_rows = list(csv.DictReader(io.StringIO(cli("report", "--csv",
                                                       config_path=path).stdout)))
        named = [r for r in csv_rows if r["telemarketer"]]
        assert {r["telemarketer"] for r in named} == {CENTRE}
        assert sum(int(r["count"]) for r in named) == len(centred)
        page = path.parent / "report.html"
        shown = cli("report", "--html", str(page), config_path=path)
        assert shown.returncode == 0, shown.stderr
        assert "Calls placed by a call centre (telemarketer)" in page.read_text()

    def test_evidence_names_the_call_centre_of_each_call(self, site):
        path, records = site
        decisions = [r for r in records if r["event"] == "decision"]
        by_hash = {number_hash(e164(i)): e164(i) for i in range(40)}
        number = next(by_hash[r["number_hash"]] for r in decisions if "telemarketer" in r
                      and any("telemarketer" not in o and o["number_hash"] == r["number_hash"]
                              for o in decisions))
        mine = [r for r in decisions if r["number_hash"] == number_hash(number)]
        wanted = {r["decision_id"]: r.get("telemarketer", "") for r in mine}
        document = json.loads(cli("evidence", number, "--json", config_path=path).stdout)
        assert {d["decision_id"]: d.get("telemarketer", "")
                for d in document["decisions"]} == wanted
        rows = list(csv.DictReader(io.StringIO(cli("evidence", number, "--format", "csv",
                                                   config_path=path).stdout)))
        assert {r["decision_id"]: r["telemarketer"] for r in rows
                if r["event"] == "decision"} == wanted
        assert not any(CENTRE in r["detail"] for r in rows)  # a column, not detail
        text = cli("evidence", number, config_path=path).stdout
        assert "telemarketer" in text
        assert f"and of its call centre {CENTRE}" in text
        page = path.parent / "evidence.html"
        made = cli("evidence", number, "--format", "html", "--output", str(page),
                   config_path=path)
        assert made.returncode == 0, made.stderr
        assert "<th>telemarketer</th>" in page.read_text()

    def test_a_number_never_called_through_it_shows_no_column(self, site):
        path, records = site
        centred = {r["number_hash"] for r in records if "telemarketer" in r}
        number = next(e164(i) for i in range(40) if number_hash(e164(i)) not in centred
                      and any(r.get("number_hash") == number_hash(e164(i)) for r in records))
        text = cli("evidence", number, config_path=path)
        assert text.returncode == 0, text.stderr
        assert "telemarketer" not in text.stdout
        page = path.parent / "plain.html"
        cli("evidence", number, "--format", "html", "--output", str(page),
                   config_path=path)
        assert "telemarketer" not in page.read_text()
