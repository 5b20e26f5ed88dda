"""Hostile SIP input the redirect front still accepted (hsip24): the number.

The number is the Request-URI's user part as RFC 3261 §25.1 reads it: a ``?`` is
``user-unreserved``, so ``sip:8015550123?x@gw`` names the user ``8015550123?x`` — not a
number; main cut it at the ``?`` and decided a call to 801-555-0123. The user's
parameters (RFC 3966 §3: ``;name[=value]``) are read: one that breaks the grammar, one
given twice (a second ``phone-context``, which another reader applies instead), and
``postd`` (post-dial digits, RFC 2806: dialled into the call once it answers — a second
number reached through the first) leave the user part whole, and the gate refuses it:
the recorded BLOCK ``callguard:number-not-dialable``. URI headers after the host
(``sip:8015550123@gw?Subject=x``) are not the user part: still read as 8015550123.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from callguard.errors import NumberError
from callguard.fronts.sip.mapping import number_of
from callguard.numbers.parse import NumberParser
from tests.serve_node import ServeNode
from tests.sip_front_client import (
    ask,
    ask_tcp,
    invite,
    listed_node,
    no_digits_logged,
    records,
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    yield from listed_node(tmp_path_factory.mktemp("hsip24"))


# --- 3. the Request-URI's user part ---------------------------------------------------------

REFUSED_URIS = [
    "sip:8015550123?x@gw",  # '?' is user-unreserved (§25.1): the user is 8015550123?x
    "sip:8015550123?@gw",
    "sips:+18015550123?x=y@gw",
    "tel:+18015550123?x",  # a tel URI has no headers (RFC 3966 §3)
    "sip:8015550123;x=1?y@gw",  # '?' in a parameter value: no paramchar
    # an isub value held to paramchar too (RFC 3966's uric would allow '?'): fail closed
    "sip:8015550123;isub=1?x@gw",
    "sip:8015550123;postd=pp8015550199@gw",  # post-dial digits: a second number
    "sip:8015550123;POSTD=1@gw;user=phone",
    "sip:8015550123;post%64=1@gw",  # its name escaped (§19.1.4: the same name)
    "tel:+18015550123;postd=1",
    "sip:8015550123;phone-context=+1;phone-context=+44@gw;user=phone",  # one context
    "sip:8015550123;phone-context=+44;phone%2Dcontext=+1@gw",
    "sip:8015550123;isub=1;isub=2@gw",
    "sip:8015550123;=1@gw",  # no name
    "sip:8015550123;;isub=1@gw",  # an empty parameter
    "sip:8015550123;isub=@gw",  # an empty value (1*paramchar)
    "sip:8015550123;is ub=1@gw",
    "sip:8015550123;isub=%zz@gw",  # no pct-encoded
    "sip:8015550123%3Fx@gw",  # escaped '?': decoded, still no number
    "sip:8015550123%3F@gw",
    "sip:8015550123%40gw@gw",  # escaped '@'
]


@pytest.mark.parametrize("uri", REFUSED_URIS)
def test_a_user_part_that_is_no_clean_dial_string_is_refused(uri: str) -> None:
    number = number_of(uri)
    assert number.lstrip("+") not in ("8015550123", "18015550123"), number
    with pytest.raises(NumberError):
        NumberParser().parse(number)


@pytest.mark.parametrize(("uri", "number"), [
    ("sip:8015550123@gw", "8015550123"),
    ("sip:8015550123@gw?Subject=x", "8015550123"),  # URI headers follow the host
    ("sip:8015550123@gw;user=phone?X=a%3Fb", "8015550123"),
    ("sip:8015550123;isub=1@gw", "8015550123"),
    ("sip:8015550123;ext=12;isub=ab%2F1@gw", "8015550123"),
    ("sip:8015550123;npdi;rn=+18015550000@gw;user=phone", "8015550123"),  # RFC 4694
    ("sip:5550123;phone-context=+1-801@gw;user=phone", "+18015550123"),
    ("sip:5550123;phone%2Dcontext=%2B1-801@gw;user=phone", "+18015550123"),
    ("tel:+1-801-555-0123;ext=5", "+1-801-555-0123"),
    ("sip:%2B18015550123@gw", "+18015550123"),
])
def test_the_forms_the_readme_documents_are_read(uri: str, number: str) -> None:
    assert number_of(uri) == number
    assert NumberParser().parse(number).e164 == "+18015550123"


WIRE_REFUSED = [
    "sip:8015550123?x@127.0.0.1",
    "sip:8015550123;postd=pp8015550199@127.0.0.1",
    "sip:8015550123;isub=1?x@127.0.0.1",
    "sip:8015550123;phone-context=+1;phone-context=+44@127.0.0.1;user=phone",
    "sip:8015550123%3F@127.0.0.1",
]


@pytest.mark.parametrize("uri", WIRE_REFUSED)
def test_an_unclean_user_part_is_a_recorded_block(node: ServeNode, uri: str) -> None:
    before = len(records(node))
    answer = ask(node, invite(uri))
    assert answer.startswith("SIP/2.0 603 "), answer
    assert 'text="callguard:number-not-dialable"' in answer, answer
    assert "Contact:" not in answer
    node.until(lambda: len(records(node)) > before)
    assert [r["rule"] for r in records(node)[before:]] == ["callguard:number-not-dialable"]
    no_digits_logged(node)


@pytest.mark.parametrize("uri", [
    "sip:8015550123@127.0.0.1?Subject=x",
    "sip:8015550123;isub=1@127.0.0.1",
    "sip:5550123;phone-context=+1-801@127.0.0.1;user=phone",
])
def test_a_documented_form_is_still_redirected(node: ServeNode, uri: str) -> None:
    answer = ask(node, invite(uri))
    assert answer.startswith("SIP/2.0 302 "), answer
    assert "<sip:+18015550123@" in answer, answer


def test_an_unclean_user_part_over_tcp_is_a_recorded_block(node: ServeNode) -> None:
    answer = ask_tcp(node, invite("sip:8015550123?x@127.0.0.1", transport="TCP"))
    assert answer.startswith("SIP/2.0 603 "), answer
