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
from tests.test_hdnc22_telemarketer import AT, CENTRE, NUMBER, SELLER_B, _node

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
