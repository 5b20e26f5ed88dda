"""Review of hhost23's last-``@`` rule (b45de4c): the number read from the Request-URIs a
real dialer or PBX sends is the number main read.

``number_of`` now keeps everything before the last ``@`` (before the headers) when a SIP
URI holds two, so the gate refuses it. RFC 3261 §25.1 allows no raw ``@`` in ``user``,
``password``, ``host`` or a ``uri-parameter`` (``paramchar`` has none) and §19.1.2 escapes
one in the user part (``%40``); only ``headers`` may be anything, and they follow ``?``.
Each form below was read on main (b45de4c~1) with the value given here; the one change is
an unescaped ``@`` in a URI parameter, which the grammar forbids: refused now, as the
two-``@`` URI is (a BLOCK of a malformed URI, never another number).
"""

from __future__ import annotations

import pytest

from callguard.errors import NumberError
from callguard.fronts.sip.mapping import number_of
from callguard.numbers.parse import NumberParser


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:8015550123@gw", "8015550123"),
    ("SIP:8015550123@GW", "8015550123"),
    ("sip:%2B18015550123@gw", "+18015550123"),  # §19.1.2 escaped user part
    ("tel:+18015550123", "+18015550123"),
    ("tel:8015550123;phone-context=+1", "+18015550123"),
    ("tel:5550123;phone-context=+1-801", "+18015550123"),
    ("sip:+18015550123;phone-context=example.com@gw.example;user=phone", "+18015550123"),
    ("sip:5550123;phone-context=+1-801@gw;user=phone", "+18015550123"),
    ("sip:8015550123;isub=1@gw", "8015550123"),
    ("sip:8015550123;ext=12@gw", "8015550123"),
    ("sip:8015550123@[2001:db8::1]", "8015550123"),
    ("sip:8015550123@[2001:db8::1]:5060;transport=tcp", "8015550123"),
    ("sips:+18015550123@[::ffff:192.0.2.1]:5061", "+18015550123"),
    ("sip:8015550123@gw;maddr=192.0.2.1;transport=udp", "8015550123"),
    ("sip:8015550123@gw;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "8015550123"),
    # headers: escaped as §19.1.1 asks, or raw (theirs, after '?'), one '@' or several
    ("sip:8015550123@gw?Replaces=abc%40host%3Bto-tag%3D1", "8015550123"),
    ("sip:8015550123@gw?Replaces=abc@host", "8015550123"),
    ("sip:8015550123@gw?X=a@b@c", "8015550123"),
    ("sip:8015550123@gw;user=phone?X=a@b", "8015550123"),
    ("sip:8015550123@[2001:db8::1]?X=a@b", "8015550123"),
])
def test_a_legitimate_uri_reads_the_number_main_read(uri: str, number: str) -> None:
    assert number_of(uri) == number
    assert NumberParser().parse(number).e164 == "+18015550123"


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:8015550123%40x@gw", "8015550123@x"),  # escaped '@': unescaped, refused (as main)
    ("sip:8015550123:secret@gw", "8015550123:secret"),  # a password: refused (as main)
    ("sip:8015550123:p%40ss@gw", "8015550123:p@ss"),
    # '?' is user-unreserved (§25.1) and '@' no hvalue character: the user is "gw?X=a"
    # (hsip24; main read "gw"), refused either way
    ("sip:gw?X=a@b", "gw?X=a"),
    ("sip:gw.example", ""),
])
def test_a_uri_main_refused_is_refused_alike(uri: str, number: str) -> None:
    assert number_of(uri) == number
    if number:
        with pytest.raises(NumberError):
            NumberParser().parse(number)


@pytest.mark.parametrize("uri", [
    "sip:8015550123@gw;x=a@b",  # main read 8015550123: '@' is no paramchar (§25.1)
    "sip:8015550123:p@ss@gw",  # main read 8015550123:p, refused there too
])
def test_a_raw_at_sign_past_the_user_part_is_refused(uri: str) -> None:
    number = number_of(uri)
    assert "@" in number
    with pytest.raises(NumberError):
        NumberParser().parse(number)
