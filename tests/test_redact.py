"""No phone number in clear reaches a log: ``redact_digits`` over hostile text."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callguard.numbers.redact import MIN_RUN, has_digit_run, redact_digits

# Zero of every decimal-digit script Python knows, plus superscripts and sub/circled forms.
_ZEROS = sorted({chr(c - unicodedata.digit(chr(c))) for c in range(0x110000)
                 if unicodedata.category(chr(c)) == "Nd"})
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def _in_script(digits: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in digits)


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(c)) for c in text
                   if unicodedata.digit(c, None) is not None)


class TestRedact:
    """Runs of seven or more digits go; dates, times and short numbers stay."""

    @pytest.mark.parametrize(("text", "expected"), [
        ("call 8015550166 now", "call [number …0166] now"),
        ("+1 (801) 555-0166", "[number …0166]"),
        ("'8015550123 ext 5' contains letters", "'[number …0123] ext 5' contains letters"),
        ("\uff18\uff10\uff11\uff15\uff15\uff15\uff10\uff11\uff16\uff16", "[number …0166]"),
        ("8⁰1555⁰166", "[number …0166]"),
        ("it is 08:30 Mon 2026-11-23 America/Denver", "it is 08:30 Mon 2026-11-23 America/Denver"),
        ("2026-11-23T08:30:00+00:00 8015550166", "2026-11-23T08:30:00+00:00 [number …0166]"),
        ("list national v12, 31 days", "list national v12, 31 days"),
        ("area code 801 exchange 555", "area code 801 exchange 555"),
        ("801 - 555 - 0166", "[number …0166]"),
        ("801\u2013555\u20130166 (en dash)", "[number …0166] (en dash)"),
        ("801\u202f555\u202f0166", "[number …0166]"),
        ("8\u200b0\u200b1\u200b\u200b\u200b\u200b5550166", "[number …0166]"),
        ("801\x00555\x000166", "[number …0166]"),
        ("at 08:30 - 09:00 - 10:00, port 127.0.0.1:4573",
         "at 08:30 - 09:00 - 10:00, port 127.0.0.1:4573"),
        # grouped 3-3-4 by punctuation that ends a run; a date or time shape inside one
        ("row 801,555,0166,ut-solar", "row [number …0166],ut-solar"),
        ("+1,801,555,0166 and 801; 555; 0167", "[number …0166] and [number …0167]"),
        ("801:555:0166", "[number …0166]"),
        ("801 , 555 , 0166 and 801 ,555 ,0167", "[number …0166] and [number …0167]"),
        ("8015-55-0166", "[number …0166]"),
        ("call 80155501:66", "call [number …5501]:66"),
        ("1,234,567 calls; area codes 801,385,435; 10.0.0.1:5060",
         "1,234,567 calls; area codes 801,385,435; 10.0.0.1:5060"),
    ])
    def test_examples(self, text, expected):
        """A written number becomes its last four digits; what is not a number stays."""
        assert redact_digits(text) == expected

    def test_every_script(self):
        """The number is taken out in each of Python's decimal-digit scripts."""
        written = [_in_script("8015550166", zero) for zero in _ZEROS]
        written.append("".join(_SUPERSCRIPTS[int(d)] for d in "8015550166"))
        for text in written:
            out = redact_digits(f"x {text} y")
            assert not has_digit_run(out), out
            assert out == "x [number …0166] y", out

    @given(
        # [0-9], not \d (any script's digit): the check below compares with ASCII digits
        digits=st.from_regex(r"[2-9][0-9]{9}", fullmatch=True),
        zeros=st.lists(st.sampled_from([*_ZEROS[:40], "0"]), min_size=10, max_size=10),
        seps=st.lists(st.sampled_from(["", " ", "-", ".", "(", ")", "/", " -", " - ", " / ",
                                       "\u2013", "\u2014", "\u2010", "\u2212", "_",
                                       "\u202f", "\u2009", "\u200b", "\u00ad",
                                       "\u200b\u200b\u200b\u200b", "\u0301"]),
                      min_size=10, max_size=10),
        before=st.text(max_size=20), after=st.text(max_size=20),
    )
    def test_property_no_run_survives(self, digits, zeros, seps, before, after):
        """Any script per digit, any separators, any surrounding text: no 7-digit run left."""
        written = "".join(sep + chr(ord(zero) + int(d))
                          for d, zero, sep in zip(digits, zeros, seps, strict=True))
        out = redact_digits(before + written + after)
        runs = re.findall(rf"\d{{{MIN_RUN},}}", _ascii_digits(out))
        assert not any(digits[i:i + MIN_RUN] in run for run in runs
                       for i in range(len(digits) - MIN_RUN + 1)), out
        assert not has_digit_run(out)
