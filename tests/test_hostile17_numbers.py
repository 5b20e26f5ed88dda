"""Hostile numbers for the parser (hhos17): a URI's local number in a private plan.

``tel:8015550123;phone-context=pbx.example.com`` is refused (RFC 3966 §5.1.5: a local
number is a number only within its context, and a domain's plan is not one callguard can
read) — but the reason said "contains letters; dial vanity numbers as digits", of the
domain's letters: a dialer's admin went looking for a vanity number that was not there.
"""

from __future__ import annotations

import pytest

from callguard.errors import NumberError
from callguard.numbers.parse import ExtensionError, NumberParser

PARSER = NumberParser(dial_prefixes=("9",))


@pytest.mark.parametrize(("text", "context"), [
    ("tel:8015550123;phone-context=pbx.example.com", "pbx.example.com"),
    ("TEL:801-555-0123;ext=5;Phone-Context=corp.example", "corp.example"),
    ("sip:8015550123;phone-context=pbx.example.com@gw;user=phone", "pbx.example.com"),
    ("sip:8015550123;phone-context=+%2531@gw;user=phone", "+%31"),  # escaped twice
])
def test_a_local_number_of_a_private_plan_says_so(text: str, context: str) -> None:
    with pytest.raises(NumberError) as caught:
        PARSER.parse(text)
    reason = str(caught.value)
    assert "numbering plan" in reason, reason
    assert repr(context) in reason, reason
    assert "vanity" not in reason, reason
    assert "5550123" not in reason, reason


@pytest.mark.parametrize("text", ["tel:8015550123;phone-context=+1",
                                  "tel:+18015550123;phone-context=pbx.example.com",
                                  "sip:+18015550123@gw;user=phone"])
def test_a_number_its_uri_places_is_still_read(text: str) -> None:
    assert PARSER.parse(text).e164 == "+18015550123"


@pytest.mark.parametrize("text", ["tel:8015550I23"])
def test_other_letters_are_still_letters(text: str) -> None:
    with pytest.raises(NumberError, match="contains letters"):
        PARSER.parse(text)


# hnum25: an extension is no letter (it said "dial vanity numbers as digits"), and a tel
# URI's ;ext= outside SIP is the same number with an extension: refused, the line named
@pytest.mark.parametrize("text", ["8015550123;ext=5", "tel:+1-801-555-0123;ext=5"])
def test_an_extension_is_an_extension(text: str) -> None:
    with pytest.raises(ExtensionError, match="has an extension") as caught:
        PARSER.parse(text)
    assert caught.value.line.e164 == "+18015550123"


@pytest.mark.parametrize("text", [
    "\u200f8015550123", "801\u200d5550123", "8015550123\x00", "\x008015550123",
    "\ufeff8015550123", "+1\u20118015550123", "8\u00ad015550123", "+\u200b18015550123",
    "8015550123\u202e", "801\u2013555\u20130123",
])
def test_invisible_and_lookalike_characters_are_refused_by_name(text: str) -> None:
    """A mark a CRM or a copy from a right-to-left page leaves in a number is named
    (``U+200F RIGHT-TO-LEFT MARK``), never dropped: a dropped one could join two fields."""
    with pytest.raises(NumberError) as caught:
        PARSER.parse(text)
    assert "U+" in str(caught.value), caught.value
    assert "5550123" not in str(caught.value)


@pytest.mark.parametrize("text", [
    "\uff18\uff10\uff11\uff15\uff15\uff15\uff10\uff11\uff12\uff13",  # full-width
    "\u0668\u0660\u0661\u0665\u0665\u0665\u0660\u0661\u0662\u0663",  # Arabic-Indic
    "\u06f8\u06f0\u06f1\u06f5\u06f5\u06f5\u06f0\u06f1\u06f2\u06f3",  # Persian
    "\uff0b\uff11 \uff18\uff10\uff11 \uff15\uff15\uff15 \uff10\uff11\uff12\uff13",
    " 8015550123\t", "8015550123\n", "98015550123", "9 1 801 555 0123",
])
def test_any_script_and_site_forms_are_the_same_number(text: str) -> None:
    assert PARSER.parse(text).e164 == "+18015550123"
