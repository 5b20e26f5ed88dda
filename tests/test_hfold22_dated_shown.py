"""hfold22: a reassigned-number file's malformed line is quoted as ``repr`` writes it, once.

``_shown`` (stores/attributes/dated.py) took ``quoted_number``'s answer, already spelt by
``repr``, cut its quotes off and spelt it again: a control character or a quote in the number
field was shown escaped twice ('x\\\\x01,2026-01-01' for a line holding x, U+0001, a comma and
a date), a backslash the file does not hold. The number field is now redacted as
``quoted_number`` redacts it (``number_text``) and the line spelt by ``repr`` once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.numbers.parse import number_text, quoted_number
from callguard.stores.attributes.dated import parse_dated_file


def _example(tmp_path: Path, line: str) -> str:
    path = tmp_path / "reassigned.csv"
    path.write_text(f"8015550100,2026-01-02\n{line}\n", encoding="utf-8")
    parsed = parse_dated_file(path, max_bad_share=1.0)
    assert parsed.bad == 1
    return parsed.bad_examples[0]


@pytest.mark.parametrize("line", ["x\x01,2026-01-01", "ab\"c'd,2026-01-01"])
def test_a_bad_line_is_spelt_by_repr_once(tmp_path: Path, line: str) -> None:
    assert _example(tmp_path, line) == f"line 2: {line!r} (want NUMBER,YYYY-MM-DD)"


def test_a_number_in_the_number_field_is_still_shown_by_its_last_four(tmp_path: Path) -> None:
    assert _example(tmp_path, "801555O101,2026-02-01") == (
        "line 2: '[number …5101],2026-02-01' (want NUMBER,YYYY-MM-DD)")


@pytest.mark.parametrize("raw", ["801-555-0123", "hello", "x\x01", "a'b\"c", "x" * 50])
def test_quoted_number_is_number_text_spelt_by_repr(raw: str) -> None:
    assert quoted_number(raw, limit=40) == repr(number_text(raw, limit=40))
