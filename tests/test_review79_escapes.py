"""hrev79, review of hrev76: the HTTP answers' JSON escapes spelt a number.

aiohttp's ``json_response`` writes with ``json.dumps`` (``ensure_ascii=True``): every
non-ASCII character as ``\\uXXXX``. A campaign sent as U+8015 + "550123" (six digits, no
run: ``clipped_repr`` quotes it as is) came back as ``\\u8015550123``, 801-555-0123 in the
answer bytes and in any proxy or dialer log of the body. A control character is escaped
so by JSON whatever the option (``\\u0001`` + "801555"). Over a real socket: the bytes are
read as sent, then parsed — they must stay valid JSON in UTF-8.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from callguard.fronts.http.answers import dumps
from callguard.numbers import NumberParser
from callguard.numbers.redact import has_digit_run
from callguard.stores.record_csv import read_record_csv
from tests.test_http_errors import AUTH, CALL, node  # noqa: F401 - fixture

CJK = "\u8015" + "550123"  # ensure_ascii: \u8015550123
CONTROL = "\x01" + "801555"  # \u0001801555
# The number asked about is in the answer by design (E.164): not the one spelt.
ASKED = {**CALL, "number": "4355550100"}


def _clear(body: bytes) -> bool:
    return any(piece in body for piece in (b"801555", b"8015550123"))


class TestCheckAnswers:
    @pytest.mark.parametrize("field", ["campaign", "mode", "at", "location"])
    @pytest.mark.parametrize("value", [CJK, CONTROL])
    async def test_an_echoed_field_spells_no_number(self, node, field, value):  # noqa: F811
        async with node.post("/v1/check", json={**ASKED, field: value},
                             headers=AUTH) as response:
            body = await response.read()
        assert response.status in (200, 400), body
        assert not _clear(body), body
        assert json.loads(body.decode("utf-8"))  # valid JSON, in UTF-8

    async def test_a_campaign_is_echoed_as_sent(self, node):  # noqa: F811
        """UTF-8, not an escape: the dialer reads back the campaign it sent."""
        async with node.post("/v1/check", json={**ASKED, "campaign": CJK},
                             headers=AUTH) as response:
            answer = json.loads(await response.read())
        assert answer["campaign"] == CJK
        assert answer["rule"] == "callguard:unknown-campaign"
        assert "charset=utf-8" in response.headers["Content-Type"]

    async def test_an_opt_out_for_such_a_campaign(self, node):  # noqa: F811
        async with node.post("/v1/opt-out", json={**ASKED, "campaign": CJK},
                             headers=AUTH) as response:
            body = await response.read()
        assert response.status == 400, body
        assert not _clear(body), body


class TestDumps:
    def test_a_lone_surrogate_is_valid_json_not_a_500(self):
        text = dumps({"error": "x\ud800y"})
        assert json.loads(text.encode("utf-8")) == {"error": "x\ud800y"}

    def test_a_lone_surrogate_before_digits_is_redacted(self):
        text = dumps({"error": "\ud801" + "5550123"})
        text.encode("utf-8")  # no lone surrogate left to fail the body's encoding
        assert not has_digit_run(text), text
        assert "[number …0123]" in json.loads(text)["error"]

    def test_the_usual_answer_reads_as_before(self):
        data = {"reason": "Blocked by x: 08:30 (47 U.S.C. 227(c)(5)) \u2026", "n": [1, None]}
        assert json.loads(dumps(data)) == data
        assert "\\u" not in dumps(data)


def test_a_csv_date_in_basic_form_is_not_repeated_in_clear() -> None:
    """hrev76 quoted the cell redacted, but the "add an offset, e.g. ..." example repeated
    it as written: "80151231T0123" (a date ISO's basic form reads, no offset) in clear."""
    parsed = read_record_csv(["number,solicitor,kind,granted_at",
                              "8015550199,Beehive Solar,written,80151231T0123"], "consent",
                             parser=NumberParser(), solicitors=frozenset({"Beehive Solar"}),
                             now=datetime(2026, 12, 1, tzinfo=UTC))
    reason = parsed.errors[0].reason
    assert not has_digit_run(reason), reason
    assert "8015-12-31T01:23:00" in reason  # an example that is itself accepted


class TestControlCharactersRefused:
    """The record (JSONL) and the supervisor's stream are written by orjson, which spells a
    control character as ``\\u00XX``: a campaign of "\\x01" + "801555" was recorded as an
    unknown-campaign BLOCK whose line held 0001801555. Refused at the front instead (400,
    nothing recorded), as FastAGI refuses such an argument."""

    @pytest.mark.parametrize("field", ["campaign", "reference"])  # mode: any unknown is a 400
    async def test_a_control_character_in_a_recorded_field_is_a_400(self, node,  # noqa: F811
                                                                     field):
        async with node.post("/v1/check", json={**ASKED, field: CONTROL},
                             headers=AUTH) as response:
            body = await response.read()
        assert response.status == 400, body
        assert "control character" in json.loads(body)["error"]
        assert not _clear(body), body

    async def test_an_opt_out_with_one_in_its_campaign_is_a_400(self, node):  # noqa: F811
        async with node.post("/v1/opt-out", json={**ASKED, "campaign": CONTROL},
                             headers=AUTH) as response:
            body = await response.read()
        assert response.status == 400, body
        assert "control character" in json.loads(body)["error"]
