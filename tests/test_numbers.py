"""What users paste and dialplans pass becomes E.164, or a clear reason (issue: Numbers)."""

from __future__ import annotations

import pytest

from callguard.errors import NumberError, UsageError
from callguard.numbers import NumberParser, parse_location

PARSER = NumberParser(dial_prefixes=("9",))


class TestAccepted:
    """Every form a user or a dialplan gives."""

    @pytest.mark.parametrize("text", [
        "8015550123", "18015550123", "+18015550123", "+1 (801) 555-0123", "801.555.0123",
        "tel:+1-801-555-0123", "tel:+18015550123;phone-context=+1",
        "sip:+18015550123@pbx.example;user=phone", "sips:18015550123@pbx",
        "98015550123", "918015550123", "  801 555 0123  ",
    ])
    def test_forms_give_the_same_e164(self, text):
        """All of these are +18015550123 in America/Denver."""
        info = PARSER.parse(text)
        assert info.e164 == "+18015550123"
        assert info.national == 8015550123
        assert info.zones == ("America/Denver",)
        assert info.area_code == 801

    def test_every_us_number_is_possibly_wireless(self):
        """libphonenumber says FIXED_LINE_OR_MOBILE: assume wireless (64.1200(a)(2))."""
        assert PARSER.parse("2125550123").possibly_wireless

    def test_toll_free_has_no_geography(self):
        """Toll-free numbers map to dozens of zones; they are not geographic."""
        info = PARSER.parse("8005550123")
        assert not info.geographic
        assert len(info.zones) > 10


class TestRefused:
    """Garbage gets one clear sentence, never a traceback."""

    @pytest.mark.parametrize(("text", "fragment"), [
        ("", "no number given"),
        ("   ", "no number given"),
        ("hello", "contains letters"),
        ("1-800-FLOWERS", "contains letters"),
        ("123", "only 3 digits"),
        ("12345678901234567890", "too long"),
        ("801555012#", "contains '#'"),
        ("0015550123", "area code 001 cannot start with 0"),
        ("2045550123", "region CA"),
        ("+44 20 7946 0958", "region GB"),
        ("4445550123", "not a valid number"),
        ("x" * 100, "at most 64"),
    ])
    def test_reason(self, text, fragment):
        """The message names what is wrong."""
        with pytest.raises(NumberError, match=None) as caught:
            PARSER.parse(text)
        assert fragment in str(caught.value)


class TestLocation:
    """CRM locations: an IANA zone or a ZIP code."""

    def test_utah_zip(self):
        """840-847 are Utah's ZIP prefixes."""
        location = parse_location("84101")
        assert (location.state, location.zones) == ("UT", ("America/Denver",))

    def test_zip_plus_four(self):
        """ZIP+4 is accepted."""
        assert parse_location("10001-1234").state == "NY"

    def test_arizona_zip_includes_navajo_nation_dst(self):
        """Arizona: Phoenix (no DST) and Denver (Navajo Nation) are both candidates."""
        assert set(parse_location("85001").zones) == {"America/Phoenix", "America/Denver"}

    @pytest.mark.parametrize("text", ["Mars/Olympus", "8410", "00000", "here"])
    def test_bad_location_is_a_usage_error(self, text):
        """Unknown zones and unassigned ZIPs are refused with a reason."""
        with pytest.raises(UsageError):
            parse_location(text)
