"""hnum25: a number written with an extension is (line, extension), on every front.

hnew25 found it read three ways. ``dnc import`` lists ``8015550144 x12`` as the line; SIP
reads ``sip:8013640188;ext=204@…`` as the line (its 302 names the line it checked, so the
dialer dials exactly that); but ``scrub``, ``check`` and HTTP ``/v1/check`` BLOCKed
``801-364-0188 x204`` as "contains letters; dial vanity numbers as digits" (it is no vanity
number), and the record hashed the RAW text with ``number_last4`` "8204" (the extension's
digits): ``tail`` showed a last four that is not the line's, and ``evidence 801-364-0188``
did not find that the lead was checked.

Now ``NumberParser.parse`` recognises an extension (``x``, ``ext``, ``ext.``, ``extn``,
``extension``, ``#``, ``;ext=``, a URI's ``;ext=`` parameter) and, when what is before it
is a number, raises ``ExtensionError`` carrying the line. The gate still BLOCKs it
``callguard:number-not-dialable`` (fail closed: outside SIP the dialer is given the text,
extension and all, and dials more than the line callguard checked), with a reason that
says so and shows the line's last four only; the record carries the line's hash and last
four, the extension nowhere. A ``tel:`` URI's ``;ext=`` read by check/HTTP/FastAGI was
ALLOWed as the line while the client kept the URI: now the same BLOCK. SIP is unchanged
(its front reads the number out of the URI before the gate sees it).

Pure parser tests; the record through the real encoder and gate; HTTP over a real socket
against a ``callguard serve`` process, and the CLI against its data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from callguard.errors import NumberError
from callguard.gate import CheckRequest
from callguard.numbers.parse import ExtensionError, NumberParser, quoted_number, split_extension
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_compliance_log import AT as LOG_AT
from tests.test_compliance_log import _captured, _settings

PARSER = NumberParser(dial_prefixes=("9",))
LINE = "+18013640188"

WITH_EXTENSION = [
    "801-364-0188 x204", "8013640188x204", "(801) 364-0188 ext. 204", "801 364 0188 ext 204",
    "801-364-0188 extn 204", "801-364-0188 extension 204", "801-364-0188#204",
    "801.364.0188;ext=204", "801.364.0188 ; ext = 204", "+1 801 364 0188 X204",
    "9 801 364 0188 x204",  # the site's dial prefix, then the number
    "tel:+1-801-364-0188;ext=204", "tel:8013640188;ext=204;phone-context=+1",
    "sip:+18013640188;ext=204@gw;user=phone",
    "\uff18\uff10\uff11\uff13\uff16\uff14\uff10\uff11\uff18\uff18 x204",  # full-width (15.1)
]


@pytest.mark.parametrize("text", WITH_EXTENSION)
def test_a_number_with_an_extension_is_its_line_and_still_refused(text: str) -> None:
    with pytest.raises(ExtensionError) as caught:
        PARSER.parse(text)
    assert caught.value.line.e164 == LINE
    reason = str(caught.value)
    assert "has an extension" in reason, reason
    assert "line's number without it" in reason, reason
    assert "vanity" not in reason, reason
    assert "letters" not in reason, reason
    assert "204" not in reason, reason  # last four only
    assert "3640188" not in reason, reason
    assert "…0188" in reason, reason  # the line's, not "…8204"


@pytest.mark.parametrize(("text", "head", "extension"), [
    ("801-364-0188 x204", "801-364-0188", "204"),
    ("801.364.0123;ext=9", "801.364.0123", "9"),
    ("tel:+18013640188;ext=2-04;phone-context=+1", "tel:+18013640188;phone-context=+1",
     "204"),
    ("8013640188", "8013640188", ""),
    ("x204", "x204", ""),  # no number before it
])
def test_split_extension(text: str, head: str, extension: str) -> None:
    assert split_extension(text) == (head, extension)


def test_the_quoted_number_is_the_lines_last_four() -> None:
    assert quoted_number("801-364-0188 x204") == "'[number …0188 x…]'"
    assert quoted_number("801.364.0123;ext=9") == "'[number …0123 x…]'"
    assert quoted_number("sip:8013640188;ext=204@gw") == "'[number …0188 x…]'"


@pytest.mark.parametrize("text", ["1-800-FLOWERS", "801555x0123", "8015550123x"])
def test_letters_that_are_no_extension_are_still_letters(text: str) -> None:
    with pytest.raises(NumberError, match="contains letters") as caught:
        PARSER.parse(text)
    assert not isinstance(caught.value, ExtensionError)


def test_a_line_that_is_no_number_says_so_and_names_the_extension() -> None:
    with pytest.raises(NumberError) as caught:
        PARSER.parse("801-000-0188 x204")
    assert not isinstance(caught.value, ExtensionError)
    reason = str(caught.value)
    assert "has an extension; without it" in reason, reason
    assert "not in service" in reason, reason
    assert "vanity" not in reason, reason
    assert "204" not in reason, reason


def test_plain_numbers_are_unchanged() -> None:
    for text in ("8013640188", "+1 (801) 364-0188", "tel:+1-801-364-0188", "98013640188"):
        assert PARSER.parse(text).e164 == LINE


# --- the record, through the real gate and encoder ------------------------------------------

@pytest.fixture
def log_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_compliance_log import KEY

    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY)


@pytest.mark.usefixtures("log_key")
async def test_the_record_names_the_line_not_the_text(tmp_path) -> None:
    runtime, capture = _captured(_settings(tmp_path))
    try:
        decided = [await runtime.gate.check(CheckRequest(
            number, "ut-solar-manual", at=LOG_AT, front="http"))
            for number in ("801-364-0188 x204", "801.364.0123;ext=9", "801-000-0188 x204")]
    finally:
        await runtime.aclose()
    assert not any(d.allowed for d in decided)
    assert {d.verdict.deciding.rule_id for d in decided if d.verdict.deciding} == {
        "callguard:number-not-dialable"}
    first, second, invalid = capture.records
    protector = runtime.protector
    assert first["number_hash"] == protector.hash(LINE)
    assert first["number_last4"] == "0188"  # was "8204"
    assert "number_parsed" not in first
    assert second["number_hash"] == protector.hash("+18013640123")
    assert second["number_last4"] == "0123"  # was "1239"
    # no line to name: the raw text's hash, as before, but the line's last four
    assert invalid["number_parsed"] is False
    assert invalid["number_last4"] == "0188"
    encoder = runtime.compliance.encoder
    for decision in decided:  # the dict form says the same (the fast encoder's twin)
        fields = encoder.decision_fields(decision)
        assert fields["number_last4"] in ("0188", "0123")
    for line in capture.lines:
        record = json.loads(line)
        assert "204" not in json.dumps({k: v for k, v in record.items()
                                        if k not in ("number_hash", "decision_id")})
        assert "extension" in record["reason"]
        assert "vanity" not in record["reason"]


# --- HTTP over a real socket, then the CLI against the node's data ----------------------------

@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("hnum25") / "node")
    write_lists(serve.data, [8015550144])
    serve.start()
    yield serve
    serve.stop()


def test_http_check_blocks_saying_extension_and_evidence_finds_the_line(
        node: ServeNode) -> None:
    status, body = node.json("/v1/check", {"number": "801-364-0188 x204",
                                           "campaign": "ut-solar-manual", "at": AT})
    assert status == 200, body
    assert body["verdict"] == "BLOCK"
    assert body["rule"] == "callguard:number-not-dialable"
    assert "has an extension" in body["reason"], body
    assert "vanity" not in body["reason"], body
    records = [json.loads(line) for line in
               (node.data / "compliance.jsonl").read_text().splitlines()]
    [record] = [r for r in records if r.get("decision_id") == body["decision_id"]]
    assert record["number_last4"] == "0188"
    found = node.cli("evidence", "801-364-0188", "--format", "json")
    assert found.returncode == 0, found.stderr
    assert body["decision_id"] in found.stdout


def test_cli_check_and_dnc_check_speak_of_the_extension(node: ServeNode) -> None:
    checked = node.cli("check", "801-364-0188 x204", "--campaign", "ut-solar-manual",
                       "--at", AT)
    said = checked.stdout + checked.stderr
    assert "has an extension" in said, said
    assert "vanity" not in said, said
    assert "…8204" not in said, said  # the line's last four
    assert "x204" not in said, said
    assert "BLOCK" in said, said
    assert "…0188 x…" in said, said
    dnc = node.cli("dnc", "check", "801-555-0144 x12")
    said = dnc.stdout + dnc.stderr
    assert "vanity" not in said, said
    assert "letters" not in said, said
    assert "extension" in said, said

