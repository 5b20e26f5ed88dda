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
        ("call 80155501:66", "call [number …0166]"),
        ("1,234,567 calls; area codes 801,385,435; 10.0.0.1:5060",
         "1,234,567 calls; area codes 801,385,435; 10.0.0.1:5060"),
    ])
    def test_examples(self, text, expected):
        """A written number becomes its last four digits; what is not a number stays."""
        assert redact_digits(text) == expected

    @pytest.mark.parametrize("text", [
        # a statute citation: digits.digits, then parenthesised subsections
        "reason: Fla. Stat. 501.059(8)(a) quiet hours",
        "us-fl:501.059(4) and 47 CFR 64.1200(c)(2)(i)",
        "16 CFR 310.4(b)(1)(iii)(B); 15 O.S. 755.1(C)(2)(a)",
        "Fla. Stat. 501.059(1) and 1234.5678(a)",
        # an IPv4 dotted quad, groups 0-255, with or without its port
        "fastagi refused peer 10.200.100.201",
        "sip from 192.168.100.201:5060 refused; ami host 10.200.100.201:5038",
        "http 255.255.255.255, 0.0.0.0 and 172.16.100.10.",
        "peer 10.200.100.201 (3 attempts)",
        # a pack version year.month.n
        "pack us-fl 2026.12.5 loaded; us-ut 2025.1.12",
        # next to each other, and to a date and a time
        "08:30 2026-11-23 10.200.100.201 2026.12.5 501.059(8)(a)",
    ])
    def test_kept_shapes(self, text):
        """What is structurally not a phone number stays readable."""
        assert redact_digits(text) == text
        assert not has_digit_run(text)

    @pytest.mark.parametrize(("text", "expected"), [
        # 3-3-4 with any separators, dots included: a phone number, not a version or a quad
        ("call 801.555.0123 now", "call [number …0123] now"),
        ("1.801.555.0123", "[number …0123]"),
        ("2012.12.0123", "[number …0123]"),
        ("+44 20 7183 8750", "[number …8750]"),
        ("+44.20.7183.8750", "[number …8750]"),
        ("8015550123 and 18015550123", "[number …0123] and [number …0123]"),
        # a clock-shaped tail after a separator is the end of the number
        ("801 555 01:00", "[number …0100]"),
        ("801-555-01:00 then", "[number …0100] then"),
        ("801.555.01:23", "[number …0123]"),
        ("+1 801 555 01:23", "[number …0123]"),
        ("801,555,01:00 and 1; 801; 555; 01:23", "[number …0100] and [number …0123]"),
        ("v2.801;555;0100, 801,555,0101.5 and 10.0.0.1.801,555,0102",
         "v2.[number …0100], [number …0101].5 and 10.0.0.[number …0102]"),
        # a kept shape that a number runs into is part of the number: the number wins
        ("801 555.0123(4)", "[number …1234])"),
        ("801 555 0123 10.0.0.1", "[number …0001]"),
        ("+2026.12.5", "[number …6125]"),
        ("80.1.555.0123", "[number …0123]"),
        ("10.0.0.1 555 0123", "10.0.0.1 [number …0123]"),
        # not a quad (a group over 255, five groups), not a version (month 55)
        ("801.255.100.123", "[number …0123]"),
        ("10.0.0.1.5550123", "[number …0123]"),
        ("2015.55.0123", "[number …0123]"),
        # a citation's digits.digits is never a local number's 3.4
        ("section 555.0123(a)", "section [number …0123](a)"),
        ("Fla. Stat. 501.0591(1)", "Fla. Stat. [number …5911])"),
        # a subsection is letters or at most two digits: "(200)" is a number's group
        # (found by the property below: 1-200-200-0000 kept 8 digits as a "citation")
        ("1.200(200) 00:00", "[number …0000]"),
        ("10.200.100.201 1.200(200) 00:0010.200.100.201",
         "10.200.100.201 [number …0000]:[number …0201]"),
        # only ASCII digits make a kept shape
        ("\uff11\uff10.\uff12\uff10\uff10.\uff11\uff10\uff10.\uff12\uff10\uff11",
         "[number …0201]"),
        ("1\u200b0.200.100.201", "[number …0201]"),
        ("10.200.100.2\u200b01", "[number …0201]"),
        ("10.200.100.2\uff10\uff11", "[number …0201]"),
        ("501.05\u00ad9(8)", "[number …0598])"),
    ])
    def test_numbers_next_to_kept_shapes(self, text, expected):
        """Every spelling of a number goes, where it looks like or touches a kept shape."""
        assert redact_digits(text) == expected
        assert not has_digit_run(expected)

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

    @given(
        digits=st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
        seps=st.lists(st.sampled_from(["", " ", "-", ".", " . ", "\u200b", "(", ") "]),
                      min_size=2, max_size=2),
        tail=st.sampled_from(["{}", "{}:{}", "{}.{}"]),
        prefix=st.sampled_from(["", "1", "+1 ", "1."]),
        shapes=st.lists(st.sampled_from(["10.200.100.201", "10.0.0.1:5060", "2026.12.5",
                                         "501.059(8)(a)", "08:30", "2026-11-23", "(4)"]),
                        min_size=2, max_size=2),
        joints=st.lists(st.sampled_from(["", " ", ".", ",", ":", "\u200b", " - "]),
                        min_size=2, max_size=2),
    )
    def test_property_number_next_to_kept_shapes(self, digits, seps, tail, prefix, shapes,
                                                 joints):
        """A NANP number, a clock-shaped or dotted last group included, between kept
        shapes: none of its seven-digit stretches survives."""
        last = tail.format(digits[6:8], digits[8:]) if "{}" in tail[2:] else digits[6:]
        written = prefix + digits[:3] + seps[0] + digits[3:6] + seps[1] + last
        out = redact_digits(shapes[0] + joints[0] + written + joints[1] + shapes[1])
        left = re.sub(r"\[number …\d{4}\]", "|", out)
        for shape in shapes:  # digits of a shape kept whole are not the number's
            left = left.replace(shape, "|")
        plain = "|".join(_ascii_digits(piece) for piece in left.split("|"))
        assert not any(digits[i:i + MIN_RUN] in plain
                       for i in range(len(digits) - MIN_RUN + 1)), out
