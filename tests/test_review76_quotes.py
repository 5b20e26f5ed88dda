"""hrev76, review of 7800401: the quotes 7800401 did not reach, redacted before ``repr``
spelt them.

``repr`` spells a character that is not printable by its code point in ASCII digits: a
value redacted first and spelt after, "x\\U00080155" + "50123" (five digits, no run), was
quoted 'x\\U0008015550123', 801-555-0123 in clear. 7800401 fixed the quotes that wrote
``clipped(x, n)!r``; these wrote ``repr(clipped(...))``, ``repr(redact_digits(...))`` or
``{text!r}`` of a CSV cell with no redaction at all:

- ``quoted_number``: every number a front, a CLI or a CSV import refuses (the gate's
  ``callguard:not-dialable`` reason, the HTTP answer);
- the HTTP front's 4xx quotes (``at``, ``mode``, a charset, a repeated field);
- the reassigned-number file's malformed-line examples (the refusal reaches cron mail);
- a consent, relationship or do-not-call CSV's dates, window, kind and solicitor (a CRM
  export with its columns shifted puts a number in ``granted_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callguard.errors import ListImportError
from callguard.numbers import NumberParser
from callguard.numbers.parse import quoted_number
from callguard.stores.attributes.dated import parse_dated_file
from callguard.stores.record_csv import read_record_csv
from tests.test_http_errors import AUTH, CALL, _error, node  # noqa: F401 - fixture

SPELT = "x\U00080155" + "50123"  # repr: 'x\U0008015550123'
CLEAR = ("801555", "8015550123")


def _clear(text: str) -> bool:
    return any(piece in text for piece in CLEAR)


@pytest.mark.parametrize("raw", [SPELT, "\U00080155" + "50123", "+1" + SPELT,
                                 "\x80155" + "50123"])
def test_a_refused_number_is_quoted_without_a_number(raw: str) -> None:
    assert not _clear(quoted_number(raw)), quoted_number(raw)
    assert not _clear(quoted_number(raw, limit=40))
    with pytest.raises(Exception) as refused:  # noqa: PT011 - NumberError or UsageError
        NumberParser().parse(raw)
    assert not _clear(str(refused.value)), refused.value


def test_quoted_number_still_reads_as_before() -> None:
    assert quoted_number("801-555-0123") == "'[number …0123]'"
    assert quoted_number("hello") == "'hello'"
    assert quoted_number("abc", limit=2) == "'ab…'"


class TestHttpAnswers:
    @pytest.mark.parametrize("field", ["at", "mode", "number"])
    async def test_a_field_is_quoted_without_a_number(self, node, field):  # noqa: F811
        async with node.post("/v1/check", json={**CALL, field: SPELT},
                             headers=AUTH) as response:
            text = await response.text()
        assert response.status in (200, 400), text
        assert not _clear(text), text
        if response.status == 400:
            assert "is not" in await _error(response)

    async def test_a_repeated_field_is_quoted_without_a_number(self, node):  # noqa: F811
        body = ('{"number": "8015550123", "campaign": "ut-solar-manual", '
                '"x\\ud9c0\\udd5550123": 1, "x\\ud9c0\\udd5550123": 2}')
        async with node.post("/v1/check", data=body, headers={
                **AUTH, "Content-Type": "application/json"}) as response:
            text = await response.text()
        assert response.status == 400, text
        assert "more than once" in text
        assert not _clear(text), text


def test_a_dated_files_bad_line_is_quoted_without_a_number(tmp_path) -> None:
    path = tmp_path / "reassigned.csv"
    path.write_text(f"{SPELT},2026-02-01\n,{SPELT}\n8015550124,2026-01-01\n")
    with pytest.raises(ListImportError) as refused:
        parse_dated_file(path)
    assert "malformed" in str(refused.value)
    assert not _clear(str(refused.value)), refused.value


@pytest.mark.parametrize(("kind", "header", "row"), [
    ("consent", "number,solicitor,kind,granted_at",
     "8015550199,Beehive Solar,written,801-555-0123"),  # columns shifted by a CRM export
    ("consent", "number,solicitor,kind,granted_at", f"8015550199,Beehive Solar,written,{SPELT}"),
    ("consent", "number,solicitor,kind,granted_at",
     "8015550199,Beehive Solar,written,2026-01-01T00:00:00"),  # no offset: still quoted
    ("consent", "number,solicitor,kind,granted_at,expires_at",
     "8015550199,Beehive Solar,written,2026-01-01T00:00:00Z,8015550123"),
    ("consent", "number,solicitor,kind,granted_at,window",
     "8015550199,Beehive Solar,calling-hours,2026-01-01T00:00:00Z,801 555 0123"),
    ("consent", "number,solicitor,kind,granted_at", "8015550199,Beehive Solar,8015550123,"
     "2026-01-01T00:00:00Z"),
    ("consent", "number,solicitor,kind,granted_at", "8015550199,8015550123,written,"
     "2026-01-01T00:00:00Z"),
    ("ebr", "number,solicitor,last_transaction", "8015550199,Beehive Solar,8015550123"),
    ("internal-dnc", "number,solicitor,added_at", "8015550199,Beehive Solar,8015550123"),
])
def test_a_csv_cell_is_quoted_without_a_number(kind: str, header: str, row: str) -> None:
    parsed = read_record_csv([header, row], kind, parser=NumberParser(),
                             solicitors=frozenset({"Beehive Solar"}),
                             now=datetime(2026, 12, 1, tzinfo=UTC))
    assert len(parsed.errors) == 1, parsed
    reason = parsed.errors[0].reason
    assert not _clear(reason), reason
    assert "555-0123" not in reason, reason
    assert "555 0123" not in reason, reason
