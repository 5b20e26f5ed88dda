"""A quoted value is redacted before it is cut, everywhere a log or report quotes one.

Cut first and redacted after, a number the cut fell inside kept its first digits in clear
(six of them: one short of the seven-digit run ``redact_digits`` takes out) — what hrev47
fixed in the HTTP front stood in a list file's report and the AMI log lines. Each case
puts a number across the old cut.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog

from callguard.errors import ListImportError
from callguard.numbers.parse import quoted_number
from callguard.numbers.redact import clipped
from callguard.stores.attributes.dated import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file
from callguard.watchdog.ami import _PanoramiskLog

NUMBER = "8015557734"
CLEAR = "801555"  # the six digits a cut after them left in clear


def _pad(limit: int) -> str:
    """Letters that put ``NUMBER``'s sixth digit at position ``limit``."""
    return "x" * (limit - len(CLEAR))


def test_quoted_number_cuts_after_redacting() -> None:
    shown = quoted_number(_pad(40) + NUMBER + " and more", limit=40)
    assert CLEAR not in shown
    assert shown.endswith("\u2026'")


def test_quoted_number_without_a_limit_is_unchanged() -> None:
    assert quoted_number("abc") == "'abc'"
    assert quoted_number("801555O101") == "'[number …5101]'"


def test_clipped_never_leaves_leading_digits() -> None:
    for limit in (40, 60, 200, 500):
        assert CLEAR not in clipped(_pad(limit) + NUMBER, limit)


def test_list_file_report_shows_no_leading_digits(tmp_path: Path) -> None:
    path = tmp_path / "dnc.txt"
    good = "\n".join(str(8015550100 + i) for i in range(3000))
    path.write_text(f"{good}\n{_pad(40)}{NUMBER}zz\n", encoding="utf-8")
    parsed = parse_list_file(path)
    assert parsed.bad == 1
    assert parsed.bad_examples
    assert CLEAR not in " ".join(parsed.bad_examples)


def test_delta_file_report_shows_no_leading_digits(tmp_path: Path) -> None:
    path = tmp_path / "delta.txt"
    good = "\n".join(f"+{8015550100 + i}" for i in range(300))
    path.write_text(f"{good}\n*{_pad(39)}{NUMBER}zz\n", encoding="utf-8")
    with pytest.raises(ListImportError) as refused:  # one bad line in 301 is over 0.1 %
        parse_delta_file(path)
    assert CLEAR not in str(refused.value)


def test_dated_file_report_shows_no_leading_digits(tmp_path: Path) -> None:
    path = tmp_path / "reassigned.csv"
    rows = "\n".join(f"{8015550100 + i},2026-01-02" for i in range(3000))
    date = "x" * 23 + NUMBER  # the old cut, 40 characters into the line, after "801555"
    path.write_text(f"phone,disconnect_date\n{rows}\n8015550099,{date}\n",
                    encoding="utf-8")
    parsed = parse_dated_file(path)
    assert parsed.bad == 1
    assert CLEAR not in " ".join(parsed.bad_examples)


def test_ami_log_lines_show_no_leading_digits(capsys: pytest.CaptureFixture[str]) -> None:
    structlog.configure(processors=[structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(),
                        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        _PanoramiskLog().warning("%s", _pad(500) + NUMBER)
    finally:
        structlog.reset_defaults()
    out = capsys.readouterr().out
    assert "panoramisk" in out
    assert CLEAR not in out


@pytest.mark.parametrize("text", [
    "x\U0008015550123",  # repr spells U+80155 as \U00080155: 0008015550123
    "Mars/\U0008015550123",
    "\x80155" + "50123",
])
def test_a_location_refused_is_quoted_without_a_number(text: str) -> None:
    """A CRM location is quoted ``repr``-spelt in the refusal; redacted before it was spelt,
    an unprintable character's code point joined the digits around it into a number."""
    from callguard.errors import UsageError
    from callguard.numbers import parse_location

    with pytest.raises(UsageError) as refused:
        parse_location(text)
    assert "801555" not in str(refused.value)
    assert "8015550123" not in str(refused.value)


def test_clipped_repr_spells_then_redacts_and_stays_bounded() -> None:
    from callguard.numbers.redact import clipped_repr

    assert "801555" not in clipped_repr("x\U0008015550123", 60)
    assert clipped_repr("ut-solar-manual", 60) == "'ut-solar-manual'"
    assert len(clipped_repr("\x00" * 10_000, 60)) <= 61
