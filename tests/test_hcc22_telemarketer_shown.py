"""The call centre (campaign key ``telemarketer``) where the officer and the dialer read (hcc22).

hdnc22 and hrev84 put the call centre on the opt-out's lists, in the decision record and in
FastAGI's opt-out reply. Left out: the /v1/check answer (``Decision.to_dict``, schema
``callguard/data/decision.schema.json``) said nothing of it while the record of the same
decision named it; HTTP's /v1/opt-out answer did not say whose lists the number went on; and
the evidence and report tables had no place for it. Real runtimes, a real `callguard serve`,
the real encoder, archiver and CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from callguard.fronts.http.spec import decision_schema
from callguard.gate import CheckRequest
from callguard.resources import record_schemas_dir
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
