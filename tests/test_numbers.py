"""What users paste and dialplans pass becomes E.164, or a clear reason (issue: Numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.errors import NumberError, UsageError
from callguard.numbers import NumberParser, nanp, parse_location
from callguard.numbers.nanp import OVERLAY_COMPLEXES, area_code_zones
from callguard.numbers.redact import has_digit_run
from callguard.stores.list_files import parse_list_file

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


class TestOverlayZones:
    """A code overlaying another serves the same territory, so it has the same zones."""

    @pytest.mark.parametrize("complex_", OVERLAY_COMPLEXES)
    def test_codes_of_a_complex_share_their_zones(self, complex_):
        """Every code of a complex maps to the same, union, set of zones."""
        zones = {area_code_zones(npa) for npa in complex_}
        assert len(zones) == 1

    @pytest.mark.parametrize("complex_", OVERLAY_COMPLEXES)
    def test_each_listed_complex_is_needed(self, complex_):
        """libphonenumber alone gives the codes of a listed complex different zones (else
        the entry is dead and the comment's claim is stale)."""
        alone = {tuple(sorted(nanp._exchange_zones(npa))) for npa in complex_}
        assert len(alone) > 1

    @pytest.mark.parametrize(("text", "zone"), [
        ("4482345678", "America/Chicago"),  # 448 overlays 850: Pensacola is Central
        ("3642345678", "America/Chicago"),  # 364 overlays 270: Paducah is Central
        ("9302345678", "America/Chicago"),  # 930 overlays 812: Evansville is Central
        ("4582345678", "America/Denver"),  # 458 overlays 541: Ontario, Oregon is Mountain
        ("9862345678", "America/Denver"),  # 986 overlays 208
    ])
    def test_overlay_number_has_the_complex_zones(self, text, zone):
        """A number of the overlay code is judged in every zone of the shared territory."""
        info = PARSER.parse(text)
        assert zone in info.zones


@pytest.mark.parametrize(("npa", "zone"), [
    (778, "America/Edmonton"),  # 778, 236, 672 overlay all of BC: Cranbrook is Mountain
    (236, "America/Edmonton"),
    (672, "America/Edmonton"),
    (581, "America/Halifax"),  # 581, 367 overlay 418: the Magdalen Islands are Atlantic
    (367, "America/Halifax"),
    (879, "America/Halifax"),  # 879 overlays 709: Labrador is Atlantic
])
def test_canadian_overlay_has_the_complex_zones(npa, zone):
    """A site with regions = ["US", "CA"] judges a Canadian overlay number in every zone of
    the territory it shares (libphonenumber gives these codes one zone of it)."""
    assert zone in area_code_zones(npa)


def test_vancouver_604_is_not_widened_by_the_bc_overlays():
    """604 is the Lower Mainland only (Pacific): the codes overlaying it and 250 add no
    Mountain time to it, or its 8-9 p.m. calls would be refused."""
    assert area_code_zones(604) == ("America/Vancouver",)


class TestZoneCorrections:
    """Area codes libphonenumber places in a zone none of their territory is in."""

    def test_689_is_orlando_eastern_time(self):
        """689 overlays 407 and 321 (Orlando, Eastern only); libphonenumber says Central,
        which let an 8:30 p.m. EDT call pass Florida's 8 p.m. limit as 7:30 p.m."""
        assert PARSER.parse("6892345678").zones == ("America/New_York",)
        assert area_code_zones(689) == ("America/New_York",)

    @pytest.mark.parametrize(("npa", "zones"), [
        (474, ("America/Regina",)),  # Saskatchewan (no DST), not Winnipeg (CDT in summer)
        (879, ("America/Halifax", "America/St_Johns")),  # as 709, not Puerto Rico's AST
    ])
    def test_canadian_overlay_is_in_its_province_zones(self, npa, zones):
        """474 overlays 306/639 (Saskatchewan) and 879 overlays 709 (Newfoundland and
        Labrador); libphonenumber puts 474 in Winnipeg's zone, an hour ahead in summer,
        so an 8:30 a.m. CDT call reached Regina at 7:30 a.m., and 879 in Puerto Rico's,
        which refused 709's summer mornings once the two were unioned."""
        assert area_code_zones(npa) == zones
        assert area_code_zones(709) == ("America/Halifax", "America/St_Johns")

    @pytest.mark.parametrize("npa", sorted(nanp.ZONE_CORRECTIONS))
    def test_each_correction_is_needed(self, npa):
        """libphonenumber alone still gives another answer (else the entry is stale)."""
        import phonenumbers
        from phonenumbers import timezone as pn_timezone

        raw = pn_timezone.time_zones_for_number(phonenumbers.parse(f"+1{npa}2345678"))
        assert tuple(raw) != nanp.ZONE_CORRECTIONS[npa]


class TestAddedOverlays:
    """Codes in service that phonenumbers 9.0.43 does not know (every number refused)."""

    def test_729_is_accepted_with_the_zones_of_423(self):
        """729 overlays 423 (East Tennessee): its numbers are judged in every zone 423's
        exchanges are in, Eastern and Central, so the window holds in both."""
        info = PARSER.parse("7292345678")
        assert (info.e164, info.region, info.geographic) == ("+17292345678", "US", True)
        assert info.possibly_wireless
        assert set(info.zones) == {"America/New_York", "America/Chicago"}
        assert area_code_zones(729) == area_code_zones(423)

    def test_an_exchange_that_cannot_exist_is_still_refused(self):
        """NXX starts 2-9 as in every NANP code: 729-1XX is not a number."""
        with pytest.raises(NumberError, match="not a valid number"):
            PARSER.parse("7291345678")

    @pytest.mark.parametrize("npa", sorted(nanp.ADDED_OVERLAYS))
    def test_each_added_code_is_still_unknown_to_phonenumbers(self, npa):
        """Once phonenumbers knows the code, the entry is stale: drop it."""
        import phonenumbers

        parsed = phonenumbers.parse(f"+1{npa}2345678")
        assert not phonenumbers.is_valid_number(parsed)
        overlaid = phonenumbers.parse(f"+1{nanp.ADDED_OVERLAYS[npa]}2345678")
        assert phonenumbers.is_valid_number(overlaid)
        assert (npa, nanp.ADDED_OVERLAYS[npa]) in {
            (a, b) for complex_ in OVERLAY_COMPLEXES for a in complex_ for b in complex_}


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
        # a no-break space (a number pasted from a document) is named, never accepted
        ("801\u00a0555\u00a00142", "contains U+00A0 NO-BREAK SPACE; a number is written"),
        ("801\u202f555 0142", "contains U+202F NARROW NO-BREAK SPACE"),
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


# The zero of every script the hostile run tried, and a few more (all Unicode category Nd).
DIGIT_ZEROS = ("0", "\uff10", "\u0660", "\u06f0", "\u07c0", "\u0966", "\u09e6", "\u0e50",
               "\U0001d7f6", "\U0001d7ce")


def spelled(ascii_number: str, zeros: list[str]) -> str:
    """``ascii_number`` with its i-th digit written in the script of ``zeros[i]``."""
    return "".join(chr(ord(zero) + int(d)) if d.isdigit() else d
                   for d, zero in zip(ascii_number, zeros, strict=True))


class TestOneCanonicalForm:
    """Issue 15.1: one ASCII E.164 form, whatever script the digits were written in."""

    @pytest.mark.parametrize("zero", DIGIT_ZEROS)
    def test_decimal_digits_of_any_script_give_the_ascii_form(self, zero):
        """Full-width, Arabic-Indic, NKo, monospace ... read as the number they spell."""
        info = PARSER.parse(spelled("8015550166", [zero] * 10))
        assert info.e164 == "+18015550166"
        assert info.e164.isascii()
        assert info.national == 8015550166

    def test_mixed_scripts_and_full_width_plus(self):
        """Mixed digits are one number; the full-width plus is a plus."""
        assert PARSER.parse("801\uff15\uff155\u0660166").e164 == "+18015550166"
        assert PARSER.parse("\uff0b\uff11" + spelled("8015550166", ["\uff10"] * 10)
                            ).e164 == "+18015550166"

    @given(st.lists(st.sampled_from(DIGIT_ZEROS), min_size=10, max_size=10),
           st.sampled_from(["", "1", "+1 ", "9"]))
    @settings(max_examples=200, deadline=None)
    def test_property_every_spelling_is_the_ascii_number(self, zeros, prefix):
        """Any mix of scripts gives exactly the E.164 of the ASCII spelling."""
        assert PARSER.parse(prefix + spelled("8015550166", zeros)).e164 == "+18015550166"

    @pytest.mark.parametrize("text", ["801555016\u00b2", "\u2460801555016", "80155501\u2076\u2076",
                                      "8015550166\u00b9"])
    def test_non_decimal_digits_are_a_clear_number_error(self, text):
        """A superscript or circled digit is not a digit anyone dials: NumberError, whose
        reason does not repeat the number (on main: ValueError from int())."""
        with pytest.raises(NumberError) as caught:
            PARSER.parse(text)
        assert "not a decimal digit" in str(caught.value)
        assert not has_digit_run(str(caught.value))

    @pytest.mark.parametrize("text", ["8015550123 ext 5", "2045550123", "4445550123",
                                      "+44 20 7946 0958", "801555012#", "80155501234567"])
    def test_reasons_never_repeat_the_number(self, text):
        """Reasons reach the compliance log and the dialplan: no digit run in clear."""
        with pytest.raises(NumberError) as caught:
            PARSER.parse(text)
        assert not has_digit_run(str(caught.value)), str(caught.value)

    def test_list_files_read_digits_as_numbers_do(self, tmp_path):
        """A list line in full-width digits is the ASCII number; a superscript line is bad,
        and the bad-line report does not repeat it in clear."""
        path = tmp_path / "list.txt"
        path.write_text("\uff18\uff10\uff11\uff15\uff15\uff15\uff10\uff11\uff16\uff16\n"
                        "\u0668\u0660\u0661,\u0665\u0665\u0665\u0660\u0661\u0666\u0667\n"
                        "801555016\u00b2\n" + "8015550100\n" * 997)
        parsed = parse_list_file(path, max_bad_share=0.01)
        numbers = {801 * 10_000_000 + n for n in parsed.by_area[801]}
        assert {8015550166, 8015550167} <= numbers
        assert parsed.bad == 1
        assert not has_digit_run(" ".join(parsed.bad_examples))

    def test_location_zip_in_full_width_digits(self):
        """A CRM ZIP in full-width digits is that ZIP; a superscript one is refused."""
        assert parse_location("\uff18\uff14\uff11\uff10\uff11").state == "UT"
        with pytest.raises(UsageError):
            parse_location("841\u00b901")


class _FullPath(NumberParser):
    """The parser without the shortcut: every input takes the full path."""

    __slots__ = ()

    def _plain_nanp(self, raw: str) -> str | None:
        return None


_PREFIXES = [(), ("9",), ("9", "81"), ("1",), ("011",)]


class TestPlainDialplanNumbers:
    """The shortcut for what a dialplan passes (10 ASCII digits, 1 + 10, +1 + 10, after a
    site's dial prefix) reaches exactly what the full path reaches: the same NumberInfo, or
    the same NumberError."""

    @staticmethod
    def _both(text: str, prefixes: tuple[str, ...] = ()) -> tuple[object, object]:
        def outcome(parser: NumberParser) -> object:
            try:
                return parser.parse(text)
            except NumberError as exc:
                return ("NumberError", str(exc))

        return (outcome(NumberParser(dial_prefixes=prefixes)),
                outcome(_FullPath(dial_prefixes=prefixes)))

    @pytest.mark.parametrize("prefixes", _PREFIXES)
    @pytest.mark.parametrize("text", [
        "8015550123", "18015550123", "+18015550123", "0115550123", "0801555012",
        "1801555012", "2045550123", "4445550123", "+28015550123", "28015550123",
        "+1801555012x", "801555012\uff13", "8015550123 ", " 8015550123", "+1+8015550123",
        "011442079460958", "1111111111", "+10801555012", "98015550123", "918015550123",
        "9011442079460958", "818015550123", "8118015550123", "98015550", "9" * 70,
        "9+18015550123", "01118015550123", "1180155501233"])
    def test_same_answer_as_the_full_path(self, text, prefixes):
        shortcut, full = self._both(text, prefixes)
        assert shortcut == full

    @pytest.mark.parametrize("prefixes", _PREFIXES)
    @given(st.text(alphabet="0123456789+", min_size=9, max_size=16))
    @settings(max_examples=300, deadline=None)
    def test_property_same_answer_as_the_full_path(self, prefixes, text):
        shortcut, full = self._both(text, prefixes)
        assert shortcut == full

    def test_a_site_with_dial_prefixes_strips_them(self):
        """With a dial prefix, 9 + 10 digits is the number after the 9; the shortcut must
        not read it as anything else (the shipped configuration has the prefix 9)."""
        parser = NumberParser(dial_prefixes=("9",))
        assert parser._plain_nanp("98015550123") == "8015550123"
        assert parser._plain_nanp("9011442079460958") is None  # international: full path
        assert parser.parse("98015550123").e164 == "+18015550123"


class TestPhoneContext:
    """RFC 3966 §5.1.5: a local number is a number only within its ``phone-context``."""

    @pytest.mark.parametrize(("user", "number"), [
        ("8015550123", "8015550123"),
        ("8015550123;phone-context=+1", "+18015550123"),
        ("555-0123;phone-context=+1-801", "+18015550123"),
        ("8015550123;phone-context=+44", "+448015550123"),
        ("+18015550123;phone-context=+44", "+18015550123"),  # a global number
        ("8015550123;ext=12", "8015550123"),
        ("8015550123;ext=12;Phone-Context=+1", "+18015550123"),
        ("8015550123;phone-context=pbx.example.com", "8015550123;phone-context=pbx.example.com"),
        # %-escaped (a SIP user part, RFC 3261 §19.1.4): the same parameter (hrev19)
        ("8015550123;phone%2Dcontext=+44", "+448015550123"),
        ("8015550123;phone-context=%2B44", "+448015550123"),
        ("8015550123;%70hone-context=%2B1", "+18015550123"),
        # escaped twice: "+%31" is no context; kept whole, so the gate refuses it
        ("8015550123;phone-context=+%2531", "8015550123;phone-context=+%2531"),
    ])
    def test_the_context_is_applied(self, user: str, number: str) -> None:
        from callguard.numbers.parse import in_phone_context

        assert in_phone_context(user) == number

    @pytest.mark.parametrize("text", ["tel:8015550123;phone-context=+44",
                                      "sip:8015550123;phone-context=+44@gw;user=phone",
                                      "tel:8015550123;phone-context=pbx.example.com",
                                      "sip:8015550123;phone%2Dcontext=+44@gw;user=phone",
                                      "sip:8015550123;phone-context=%2B44@gw;user=phone"])
    def test_a_local_number_of_another_context_is_not_a_us_number(self, text: str) -> None:
        parser = NumberParser()
        with pytest.raises(NumberError):
            parser.parse(text)

    @pytest.mark.parametrize("uri", ["sip:8015550123;phone%2Dcontext=+44@gw;user=phone",
                                     "sip:8015550123;phone-context=%2B44@gw;user=phone"])
    def test_the_sip_front_reads_an_escaped_context(self, uri: str) -> None:
        """The 302 names the number the gate judged: +1 801 555 0123 for a +44 number was
        a redirect to a US subscriber nobody asked about (hrev19)."""
        from callguard.fronts.sip.mapping import number_of

        with pytest.raises(NumberError):
            NumberParser().parse(number_of(uri))

    def test_a_national_number_in_its_own_context_is_read(self) -> None:
        assert NumberParser().parse("tel:8015550123;phone-context=+1").e164 == "+18015550123"
